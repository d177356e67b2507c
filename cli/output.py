"""Machine-readable output: the documents as JSON or YAML, each in one write; and what a scan
could not see, said on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from ..agent.report import Document, ScanErrorReport, value_or
from .terminal_text import echo_lines


def emit_document(document: Document, output: str) -> bool:
    """Print a document as json or yaml; False when the format is a table."""
    if output == "json":
        sys.stdout.write(json.dumps(document.to_json(), indent=2) + "\n")
        return True
    if output == "yaml":
        import yaml  # only for -o yaml

        sys.stdout.write(yaml.safe_dump(document.to_json(), sort_keys=False))
        return True
    return False


def unseen_entries(errors: Iterable[ScanErrorReport]) -> list[ScanErrorReport]:
    """The per-cause entries of a document's `errors` (those that carry a message)."""
    return [e for e in errors if value_or(e.message, "")]


def warn_unseen(errors: Iterable[ScanErrorReport]) -> None:
    """One warning line per cause on stderr, whatever the output format (a script reads stdout;
    JSON/YAML carry the same in `errors`). The messages quote the node (paths, an agent's
    words): echo_lines escapes them."""
    lines = []
    for entry in unseen_entries(errors):
        node = value_or(entry.node, "")
        lines.append(f"warning: {f'node {node}: ' if node else ''}{value_or(entry.message, '')}")
    if lines:
        echo_lines(lines, err=True)
