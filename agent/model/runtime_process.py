"""A container runtime's process as it describes itself: what the runtimes' locations are read
from (discovery reads it, runtimes/locations.py interprets it)."""

from __future__ import annotations

import msgspec


class RuntimeProcess(msgspec.Struct, frozen=True):
    pid: int
    exe: str  # basename of the executable, one of discovery.runtime_processes.RUNTIME_EXES
    argv: tuple[str, ...]  # decoded with surrogateescape: any bytes come back as they were
    cwd: str  # "" when unreadable
