"""Read files as a process inside other namespaces sees them, from a short-lived child.

Some kernel files answer for the namespaces of whoever reads them, not for a pid in the path:
`/proc/sysvipc/*` lists the reader's IPC objects, `/proc/sys/kernel/hostname` is the reader's
UTS name. To read them for a pod, a forked child joins the pod's namespaces with setns(2) (libc
through ctypes: Python 3.11 has no os.setns), reads, sends the contents back through a pipe and
exits. The agent's own threads never change namespaces.

The child is forked, not exec'd: a fresh interpreter costs ~150 ms on a small node, a fork ~1 ms.
It does only simple things before `os._exit` (setns, open/read, json, write), so a lock held by
another thread of the agent at fork time cannot reach it. pyroute2's NetNS works the same way.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import select
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

import msgspec

from ..discovery.privileges import denied_reason
from ..model import errno_name
from ..model.bounded_read import read_capped

# setns(2) nstype flags (include/uapi/linux/sched.h)
NS_FLAGS = {"ipc": 0x08000000, "uts": 0x04000000, "net": 0x40000000}
_LIBC = ctypes.CDLL(None, use_errno=True)
MAX_REPLY = 16 * 1024 * 1024
# A namespace's SysV IPC tables hold a line per object: 4 MiB is ~30,000 objects.
MAX_FILE = 4 * 1024 * 1024


class InsideRead(msgspec.Struct, frozen=True):
    files: Mapping[str, str] = msgspec.field(default_factory=dict)  # path -> content
    errors: Mapping[str, str] = msgspec.field(default_factory=dict)  # path -> errno name
    error: str = ""  # the namespaces could not be joined: nothing was read


def read_inside(
    namespaces: Mapping[str, str], paths: Sequence[str], timeout: float = 5.0
) -> InsideRead:
    """Read `paths` from a child that joined `namespaces` (type -> `/proc/<pid>/ns/<type>`)."""
    fds: dict[str, int] = {}
    try:
        for ns_type, path in namespaces.items():
            fds[ns_type] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        _close_all(fds.values())
        return InsideRead(error=denied_reason(exc, f"open {path}"))
    read_end, write_end = os.pipe()
    try:
        child = os.fork()
    except OSError as exc:
        _close_all([*fds.values(), read_end, write_end])
        return InsideRead(error=f"fork: {errno_name(exc)}")
    if child == 0:
        os.close(read_end)
        _child(write_end, fds, paths)
    _close_all([*fds.values(), write_end])
    try:
        reply = _receive(read_end, child, timeout)
    finally:
        os.close(read_end)
    if isinstance(reply, str):
        return InsideRead(error=reply)
    return InsideRead(
        files=reply.get("files", {}), errors=reply.get("errors", {}), error=reply.get("error", "")
    )


def _child(write_end: int, fds: Mapping[str, int], paths: Sequence[str]) -> NoReturn:
    """Join, read, reply, exit: never returns into the caller's code."""
    status = 0
    try:
        reply: dict[str, object] = {}
        for ns_type, fd in fds.items():
            if _LIBC.setns(fd, NS_FLAGS[ns_type]) != 0:
                reply["error"] = f"setns {ns_type}: {errno.errorcode.get(ctypes.get_errno(), '?')}"
                break
        else:
            files: dict[str, str] = {}
            errors: dict[str, str] = {}
            for path in paths:
                try:
                    files[path] = read_capped(path, MAX_FILE).decode("utf-8", "replace")
                except OSError as exc:
                    errors[path] = errno_name(exc)
            reply = {"files": files, "errors": errors}
        payload = json.dumps(reply).encode()
        while payload:
            payload = payload[os.write(write_end, payload) :]
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _receive(read_end: int, child: int, timeout: float) -> dict[str, Any] | str:
    """The child's reply, or the reason there is none. Always reaps the child."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    received = 0
    while True:
        remaining = deadline - time.monotonic()
        ready = select.select([read_end], [], [], max(remaining, 0))[0] if remaining > 0 else []
        if not ready:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            return f"the helper process gave no answer within {timeout:g} s"
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
        if received > MAX_REPLY:
            os.kill(child, signal.SIGKILL)
            break
    _, status = os.waitpid(child, 0)
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        return f"the helper process failed (exit status {os.waitstatus_to_exitcode(status)})"
    return reply if isinstance(reply, dict) else "the helper process sent a malformed reply"


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        os.close(fd)
