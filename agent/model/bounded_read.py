"""Read a file of the node without blocking and without reading more than a cap.

Everything on the node is hostile input. Where a runtime keeps a JSON file, whoever writes its
state directory can leave a FIFO (a plain open(2) of it waits for a writer for ever), a link that
leads out of the directory (under a DaemonSet's host root, an absolute link even resolves in the
agent's own filesystem, not the node's), or a file far larger than any real one. `read_capped`
opens without blocking and without following a final link, refuses what is not a regular file,
and reads at most `limit` bytes. A file that holds more is refused, not cut: a cut JSON document
or table reads as a different one.

A refusal is a `RefusedFileError`, an OSError: every caller's `except OSError` already turns it
into its one ScanError, with the message as the reason. The module lives in the model because
every layer that reads the node may import the model and nothing else in common.
"""

from __future__ import annotations

import os
import stat

# procfs files all say they hold 0 bytes: those are read in chunks of this size until the end.
CHUNK = 65536
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC


class RefusedFileError(OSError):
    """A file `read_capped` will not read: not a regular file, or larger than its cap."""


def size_text(size: int) -> str:
    """4194304 -> `4 MiB`, as a cap is spoken of in a reason."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def read_capped(path: str, limit: int, dir_fd: int | None = None) -> bytes:
    """The whole content of the regular file at `path` (relative to `dir_fd` where given).

    Raises OSError: open(2)'s or read(2)'s own (ELOOP for a final link, FileNotFoundError), or
    RefusedFileError for anything but a regular file or one larger than `limit` bytes.
    """
    fd = os.open(path, _FLAGS, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RefusedFileError("not a regular file")
        if info.st_size > limit:
            raise _too_large(limit)
        # One read gets a file on disk whole (and the next finds its end); procfs comes in chunks.
        request = min(max(info.st_size + 1, CHUNK), limit + 1)
        parts: list[bytes] = []
        size = 0
        while chunk := os.read(fd, min(request, limit + 1 - size)):
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
        return b"".join(parts)
    finally:
        os.close(fd)


def _too_large(limit: int) -> RefusedFileError:
    return RefusedFileError(f"larger than {size_text(limit)}")
