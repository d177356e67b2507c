"""What the application answers, before it becomes WSGI: a status code, a content type, and a body
that is bytes, a file of the results (sent by waitress from the file, never copied into memory),
or a stream of pieces composed as they are sent."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..exchange import metrics_gzip
from .request_checks import ApiError

JSON = "application/json"
# The exposition's type as prometheus-client names it (a unit test holds them together).
METRICS_TYPE = "text/plain; version=1.0.0; charset=utf-8"
FILE_BLOCK = 64 * 1024


class ResultsFile(io.RawIOBase):
    """An open results file (its first `size` bytes: all by default), followed by a few bytes of
    the server's, as one seekable read-only file for wsgi.file_wrapper: /metrics is the scanner's
    exposition, then the server's lines."""

    def __init__(self, fd: int, tail: bytes = b"", size: int | None = None) -> None:
        super().__init__()
        self._fd = fd
        self._size = os.fstat(fd).st_size if size is None else size
        self._tail = tail
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        end = self._size + len(self._tail)
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: end}[whence]
        self._pos = max(0, min(end, base + offset))
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = self._size + len(self._tail)
        size = end - self._pos if size is None or size < 0 else min(size, end - self._pos)
        piece = b""
        if self._pos < self._size and size > 0:
            piece = os.pread(self._fd, min(size, self._size - self._pos), self._pos)
            if not piece:  # the file shrank: a scanner bug; send what there is
                self._size = self._pos
        rest = size - len(piece)
        if rest > 0 and self._pos + len(piece) >= self._size:
            start = self._pos + len(piece) - self._size
            piece += self._tail[start : start + rest]
        self._pos += len(piece)
        return piece

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


@dataclass
class Answer:
    code: int
    content_type: str
    body: bytes = b""
    file: ResultsFile | None = None  # instead of body: sent from the file by waitress
    stream: Iterable[bytes] | None = None  # instead of body: composed as sent, length unknown
    headers: list[tuple[str, str]] = field(default_factory=list)


def open_results_file(path: Path) -> int:
    """An fd of a results file: never following a symlink at the last step, never blocking on a
    FIFO (the directory is the scanner's, but a bug there must not hang a server thread)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise ApiError(503, f"the scanner's results lack {path.name}: {exc.strerror}") from exc
    except OSError as exc:
        raise ApiError(503, f"cannot read the scanner's results ({path}): {exc.strerror}") from exc
    if not _regular(fd):
        os.close(fd)
        raise ApiError(503, f"the scanner's results hold {path.name} but not as a file")
    return fd


def gzip_metrics_file(path: Path, tail: bytes) -> ResultsFile | None:
    """The scanner's compressed exposition finished with the server's lines `tail`, as one gzip
    stream (exchange/metrics_gzip.py); None when the scanner wrote none that can be finished (a
    scanner from before it wrote one): then the answer is not compressed."""
    try:
        fd = open_results_file(path)
    except ApiError:
        return None
    total = os.fstat(fd).st_size
    size = total - metrics_gzip.FOOTER_BYTES
    footer = (
        os.pread(fd, metrics_gzip.FOOTER_BYTES, size)
        if total >= metrics_gzip.MIN_FILE_BYTES
        else b""
    )
    if len(footer) != metrics_gzip.FOOTER_BYTES:
        os.close(fd)
        return None
    return ResultsFile(fd, metrics_gzip.finish(footer, tail), size)


def _regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


def read_results_file(path: Path, limit: int) -> bytes:
    """A whole results file, at most `limit` bytes (more: the answer is 503)."""
    fd = open_results_file(path)
    try:
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ApiError(503, f"the scanner's {path.name} is larger than {limit} bytes")
    return data


def chunks(pieces: Iterable[bytes], size: int = FILE_BLOCK) -> Iterator[bytes]:
    """Pieces gathered into writes of about `size` bytes: few writes, bounded memory."""
    pending: list[bytes] = []
    length = 0
    for piece in pieces:
        pending.append(piece)
        length += len(piece)
        if length >= size:
            yield b"".join(pending)
            pending, length = [], 0
    if pending:
        yield b"".join(pending)
