"""The runtimes' JSON state, read bounded and decoded into typed structs.

Each runtime module declares the shape of what it reads (msgspec Structs holding only the fields
it uses; the rest is skipped without being built). Decoding against that shape is the defence:
a list where an object belongs, a number where a string does, invalid UTF-8, a lone surrogate
(which Python's json would hand on, to fail later in the metrics' encoding), nesting deeper than
the decoder's limit: each is one `MalformedJsonError`, and reading a file makes it one ScanError.
The shapes follow the runtimes' Go types, so what those would refuse to decode is refused here.
"""

from __future__ import annotations

import os
from typing import TypeVar

import msgspec

from ..model import ScanError, ScanStage, errno_name
from ..model.bounded_read import read_capped

T = TypeVar("T")


class MalformedJsonError(ValueError):
    """A document that is not JSON of the expected shape."""


def decode_json(data: bytes | str, shape: type[T]) -> T:
    try:
        return msgspec.json.decode(data, type=shape)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise MalformedJsonError(str(exc)) from None


def read_json_file(path: str, cap: int, shape: type[T], errors: list[ScanError]) -> T | None:
    """A runtime's JSON file; None when absent, None and one ScanError when it is unreadable,
    not a regular file, larger than `cap` or malformed."""
    try:
        data = read_capped(path, cap)
    except FileNotFoundError:
        return None
    except OSError as exc:
        errors.append(ScanError(ScanStage.RUNTIME, errno_name(exc), path=path))
        return None
    try:
        return decode_json(data, shape)
    except MalformedJsonError:
        reason = f"malformed {os.path.basename(path)}"
        errors.append(ScanError(ScanStage.RUNTIME, reason, path=path))
        return None
