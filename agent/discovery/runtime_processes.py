"""The container runtimes' own processes, told by their executables: what fds.py reads the pinned
namespaces of, and what the runtimes' locations are read from (command line and cwd).

Any process can call itself `containerd` (prctl PR_SET_NAME), and any user can run a copy of a
runtime's binary with the arguments it likes. So a process counts as a runtime only when:
- its comm is one of a runtime's (the cheap first filter, never the proof);
- its `exe` carries a runtime's name and is a regular file owned by root (or by the scanner's own
  user) that no one else may write;
- it runs in the node's mount namespace, where the runtimes live: a container's process fails it;
- for locations, also: it runs as root or as the scanner's user, and it is in no container's
  cgroup (kubelet's layout), so an unprivileged user running /usr/bin/containerd-shim-runc-v2 with
  a made-up `-address` names no socket.

What a runtime process says of itself cannot change while it lives (a runtime does not execve),
so it is read once per (pid, start time) and kept while the process lives.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Mapping

from ..model import Process, RuntimeProcess
from ..model.bounded_read import read_capped

# Basenames of the runtimes' executables. k3s runs containerd from its multi-call binary, so
# its containerd's exe is `k3s`.
RUNTIME_EXES = frozenset(
    {
        "containerd",
        "containerd-shim",
        "containerd-shim-runc-v1",
        "containerd-shim-runc-v2",
        "crio",
        "conmon",
        "conmonrs",
        "pinns",
        "dockerd",
        "cri-dockerd",
        "podman",
        "k3s",
    }
)
# comm of the runtimes: the executable's name cut to 15 characters (`containerd-shim-runc-v2`
# reads `containerd-shim`); k3s's containerd runs through a link called `containerd`. The cheap
# first filter, never the proof.
RUNTIME_COMMS = frozenset(exe[:15] for exe in RUNTIME_EXES - {"k3s"})
CMDLINE_CAP = 32 * 1024  # a runtime's command line is a few hundred bytes; a longer one is refused


def runtime_exe(proc_root: str, process: Process, host_mnt: int | None) -> str | None:
    """The basename of a process's executable when it is a runtime's (see the module), else None."""
    if host_mnt is None or process.namespaces.get("mnt") != host_mnt:
        return None
    exe = f"{proc_root}/{process.pid}/exe"
    try:
        name = os.path.basename(os.readlink(exe)).removesuffix(" (deleted)")
        # stat follows the magic link to the executable's inode, in whatever mount it lives.
        found = os.stat(exe)
    except OSError:
        return None
    trusted = (
        name in RUNTIME_EXES
        and stat.S_ISREG(found.st_mode)
        and found.st_uid in (0, os.geteuid())
        and not found.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )
    return name if trusted else None


class RuntimeProcessReader:
    """The runtime processes of each scan, each read once while it lives."""

    def __init__(self, proc_root: str) -> None:
        self.proc_root = proc_root
        self._seen: dict[tuple[int, int], RuntimeProcess | None] = {}

    def read(
        self,
        processes: Mapping[int, Process],
        host_mnt: int | None,
        in_containers: Collection[int],
    ) -> list[RuntimeProcess]:
        """The runtimes among `processes`, by pid; `in_containers`: pids in a container's cgroup."""
        seen: dict[tuple[int, int], RuntimeProcess | None] = {}
        found = []
        for pid in sorted(processes):
            process = processes[pid]
            if process.comm not in RUNTIME_COMMS or pid in in_containers:
                continue
            key = (pid, process.start_time)
            runtime = self._seen[key] if key in self._seen else self._read(process, host_mnt)
            seen[key] = runtime
            if runtime is not None:
                found.append(runtime)
        self._seen = seen
        return found

    def _read(self, process: Process, host_mnt: int | None) -> RuntimeProcess | None:
        exe = runtime_exe(self.proc_root, process, host_mnt)
        if exe is None:
            return None
        pid_dir = f"{self.proc_root}/{process.pid}"
        try:
            if os.stat(pid_dir).st_uid not in (0, os.geteuid()):
                return None
            cmdline = read_capped(f"{pid_dir}/cmdline", CMDLINE_CAP)
        except OSError:
            return None
        try:
            cwd = os.fsdecode(os.readlink(os.fsencode(f"{pid_dir}/cwd")))
        except OSError:
            cwd = ""
        argv = tuple(os.fsdecode(arg) for arg in cmdline.split(b"\0")[:-1])
        return RuntimeProcess(process.pid, exe, argv, cwd)
