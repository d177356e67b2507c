"""The scanner's results as the server reads them: the generation `current` names (resolved once
per answer), its documents, the scanner's heartbeat, and the two edits a server makes to a
document: a list filtered to the namespaces an asker may see, and the stale mark."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exchange import layout
from ..exchange.heartbeat import (
    HeartbeatUnreadableError,
    ScannerView,
    boottime,
    read_heartbeat,
    scanner_view,
    stale_error,
)
from .answers import chunks, read_results_file
from .request_checks import ApiError, json_bytes

MAX_NAMESPACE_DOCUMENT_BYTES = 64 * 1024 * 1024
MAX_EDITED_DOCUMENT_BYTES = 256 * 1024 * 1024
# A stale mark parses the whole document: one at a time, so a few parallel requests for a
# node's full list cannot multiply that memory while the scanner is down.
_WHOLE_DOCUMENT_EDITS = threading.Lock()


@dataclass(frozen=True)
class Generation:
    path: Path
    index: layout.GenerationIndex

    def document(self, name: str) -> Path:
        return self.path / name

    def empty_document(self, documents_dir: str) -> Path:
        return layout.namespace_document(self.path, documents_dir, None)

    def namespace_document(self, documents_dir: str, namespace: str) -> Path:
        """pods/<key>.json of `namespace`; pods/empty.json when the scan saw no pod in it."""
        return layout.namespace_document(
            self.path, documents_dir, self.index.namespaces.get(namespace)
        )


@dataclass(frozen=True)
class StaleMark:
    """The errors entry of an answer from a generation older than the readiness limit."""

    age: float  # seconds since the scan ended (or, with no heartbeat, since it was taken)
    entry: dict[str, str]


@dataclass(frozen=True)
class Freshness:
    """Whether an answer from the served generation must carry the stale mark."""

    view: ScannerView | None  # None: the heartbeat is unreadable
    heartbeat_problem: str

    def stale_mark(self, generation: Generation) -> StaleMark | None:
        taken_at = generation.index.taken_at
        if self.view is None:  # no heartbeat: the scan's own wall-clock time is the age left
            age = max(0.0, time.time() - taken_at)
        elif self.view.ready or self.view.scan_age is None:
            return None
        else:
            age = self.view.scan_age
        return StaleMark(age, stale_error(age, taken_at))


class Results:
    def __init__(self, results_dir: Path) -> None:
        self.dir = results_dir

    def generation(self) -> Generation:
        """The generation being served; ApiError 503 when there is none (yet) or it is broken."""
        try:
            path = layout.current_generation(self.dir)
            if path is None:
                raise ApiError(503, "no scan has completed yet")
            return Generation(path, layout.read_index(path))
        except layout.ResultsUnreadableError as exc:
            raise ApiError(503, f"the scanner's results cannot be read: {exc}") from exc

    def freshness(self) -> Freshness:
        try:
            return Freshness(scanner_view(read_heartbeat(self.dir), boottime()), "")
        except HeartbeatUnreadableError as exc:
            return Freshness(None, str(exc))


def marked_document(path: Path, mark: StaleMark) -> bytes:
    """A whole document with the stale mark appended to its `errors`."""
    with _WHOLE_DOCUMENT_EDITS:
        document = _load(path, MAX_EDITED_DOCUMENT_BYTES)
        _append_error(document, mark.entry)
        return json_bytes(document)


def composed_list(
    generation: Generation,
    documents_dir: str,
    namespaces: Iterable[str],
    mark: StaleMark | None,
) -> Iterator[bytes]:
    """The list of `documents_dir` ("pods", "findings") holding only `namespaces`' items: the
    envelope of the empty list, the items of each namespace's document in namespace order (the
    scanner's order within one), written as they are read, one namespace in memory at a time."""
    envelope = _load(generation.empty_document(documents_dir), 1 << 20)
    if mark is not None:
        _append_error(envelope, mark.entry)
    paths = [
        generation.namespace_document(documents_dir, ns)
        for ns in sorted(set(namespaces))
        if ns in generation.index.namespaces
    ]

    def items() -> Iterator[bytes]:
        first = True
        for path in paths:
            for item in _load(path, MAX_NAMESPACE_DOCUMENT_BYTES).get("items", []):
                yield (b"" if first else b",") + json_bytes(item)
                first = False

    def pieces() -> Iterator[bytes]:
        yield b"{"
        for position, (key, value) in enumerate(envelope.items()):
            yield (b"," if position else b"") + json_bytes(key) + b":"
            if key == "items":
                yield b"["
                yield from items()
                yield b"]"
            else:
                yield json_bytes(value)
        yield b"}"

    return chunks(pieces())


def _append_error(document: dict[str, Any], entry: dict[str, str]) -> None:
    errors = document.get("errors")
    document["errors"] = [*(errors if isinstance(errors, list) else []), entry]


def _load(path: Path, limit: int) -> dict[str, Any]:
    raw = read_results_file(path, limit)
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise ApiError(503, f"the scanner's {path.name} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ApiError(503, f"the scanner's {path.name} is not a JSON object")
    return document
