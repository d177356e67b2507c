"""Facts about a set of processes that runtimes and pairing both need: which is a container's
init, and which commands are pause binaries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .snapshot import Process

# The commands a sandbox's pause process runs as (`/pause`, podman's `catatonit -P`).
PAUSE_COMMS = frozenset({"pause", "catatonit"})


def container_init_pid(
    pids: Iterable[int], processes: Mapping[int, Process], recorded: int | None = None
) -> int | None:
    """The runtime's recorded init pid when it is among `pids`; else the top process.

    The top process is the earliest-started one whose parent is not in the container. Never the
    lowest pid: pids wrap.
    """
    members = set(pids)
    if recorded is not None and recorded in members:
        return recorded
    tops = [processes[pid] for pid in members if processes[pid].ppid not in members]
    candidates = tops or [processes[pid] for pid in members]
    if not candidates:
        return None
    return min(candidates, key=lambda p: (p.start_time, p.pid)).pid
