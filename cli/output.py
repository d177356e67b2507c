"""Machine-readable output: the documents as JSON or YAML, each in one write; and what a scan
could not see, said on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .terminal_text import echo_lines

if TYPE_CHECKING:
    from ..agent.report import Document, ScanErrorReport


def emit_document(document: Document, output: str) -> bool:
    """Print a document as json or yaml; False when the format is a table."""
    if output == "json":
        sys.stdout.write(document_json(document) + "\n")
        return True
    if output == "yaml":
        import yaml  # only for -o yaml

        sys.stdout.write(yaml.safe_dump(document.to_json(), sort_keys=False))
        return True
    return False


def document_json(document: Document) -> str:
    """The document as indented JSON, ASCII only (non-ASCII characters as \\u escapes).

    msgspec encodes a document of thousands of pods ~8 times faster than json.dumps of its
    builtins, with the same text (but for floats below 1e-4 or from 1e16, written without the
    `+`/leading-zero exponent: `1e16`, `0.00005`); a document holding non-ASCII characters or
    DEL (or the lone surrogates of undecodable bytes, which msgspec refuses) takes the json
    module's path, which escapes them.
    """
    import msgspec

    try:
        encoded: bytes | None = msgspec.json.encode(document)
    except UnicodeEncodeError:
        encoded = None
    # json.dumps escapes DEL too; msgspec leaves it raw.
    if encoded is not None and encoded.isascii() and b"\x7f" not in encoded:
        return msgspec.json.format(encoded, indent=2).decode("ascii")
    return json.dumps(document.to_json(), indent=2)


def unseen_entries(errors: Iterable[ScanErrorReport]) -> list[ScanErrorReport]:
    """The per-cause entries of a document's `errors` (those that carry a message)."""
    from ..agent.report import value_or

    return [e for e in errors if value_or(e.message, "")]


def warn_unseen(errors: Iterable[ScanErrorReport]) -> None:
    """One warning line per cause on stderr, whatever the output format (a script reads stdout;
    JSON/YAML carry the same in `errors`). The messages quote the node (paths, an agent's
    words): echo_lines escapes them."""
    from ..agent.report import value_or

    lines = []
    for entry in unseen_entries(errors):
        node = value_or(entry.node, "")
        lines.append(f"warning: {f'node {node}: ' if node else ''}{value_or(entry.message, '')}")
    if lines:
        echo_lines(lines, err=True)
