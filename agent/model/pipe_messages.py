"""Messages between nsinspect and a child it forked: one pickle per message, its length first.

Both ends are the same program (the child is a fork), so pickle carries its own data model; the
length lets the reader stop at a message's end even where a grandchild keeps the pipe open.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import time
from typing import Any

LENGTH = struct.Struct("!Q")


def send_message(fd: int, message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(LENGTH.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def receive_message(fd: int, timeout: float | None) -> Any:
    """One message; EOFError when the other end closed first, TimeoutError past `timeout`."""
    deadline = None if timeout is None else time.monotonic() + timeout
    (length,) = LENGTH.unpack(_read_exactly(fd, LENGTH.size, deadline))
    return pickle.loads(_read_exactly(fd, length, deadline))


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        if deadline is not None:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("the child did not answer in time")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the child closed its pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
