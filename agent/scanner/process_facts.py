"""What the node's process table says of a few processes (psutil): who runs each, how big it
is, since when. Read for a single pod's report (each container's main process) and for a
single process's report, never for a list: it is one more read per process.

A process that vanished, was replaced by another with the same pid, or cannot be read leaves
its facts unset: the facts are a convenience beside the namespaces, never an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import psutil

from ..discovery.procfs import boot_time
from ..model import Process
from ..model.bounded_read import read_capped
from ..report import ProcessFacts

PASSWD_CAP = 4 << 20  # a node's /etc/passwd is a few KiB; an LDAP-sized one is cut here
# psutil's start time and the one from stat's clock ticks differ by rounding only.
SAME_START_SECONDS = 1.0


def node_users(host_root: str) -> dict[int, str]:
    """uid -> user name from the node's /etc/passwd (under the host root): the scanner's own
    may be a container's, which does not know the node's users."""
    try:
        text = read_capped(os.path.join(host_root, "etc/passwd"), PASSWD_CAP)
    except OSError:
        return {}
    users: dict[int, str] = {}
    for line in text.decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdecimal():
            users.setdefault(int(fields[2]), fields[0])
    return users


class ProcessFactsReader:
    """Reads ProcessFacts under one proc root, checking each pid is still the process the
    scan saw (its start time)."""

    def __init__(self, proc_root: str, host_root: str = "/") -> None:
        self.proc_root = proc_root
        self.host_root = host_root
        self._users: dict[int, str] | None = None
        self._boot_time: float | None = None
        self._ticks = os.sysconf("SC_CLK_TCK")

    def facts(self, processes: Iterable[Process]) -> dict[int, ProcessFacts]:
        """pid -> facts, for the processes that could be read."""
        found: dict[int, ProcessFacts] = {}
        for process in processes:
            facts = self.read(process)
            if facts is not None:
                found[process.pid] = facts
        return found

    def read(self, process: Process) -> ProcessFacts | None:
        # psutil reads /proc unless told otherwise; a DaemonSet reads the node's at /host/proc.
        psutil.PROCFS_PATH = self.proc_root
        try:
            handle = psutil.Process(process.pid)
            with handle.oneshot():
                uid = handle.uids().real
                threads = handle.num_threads()
                rss = handle.memory_info().rss
                times = handle.cpu_times()
                started_at = handle.create_time()
        # IndexError: psutil indexes /proc/<pid>/stat's fields, and a short line (an odd or
        # fake /proc) has fewer than it expects.
        except (psutil.Error, OSError, ValueError, IndexError):
            return None
        if not self._same_process(process, started_at):
            return None
        return ProcessFacts(
            user=self.users.get(uid, str(uid)),
            uid=uid,
            threads=threads,
            rss_bytes=rss,
            cpu_seconds=round(times.user + times.system, 2),
            started_at=round(started_at, 2),
        )

    @property
    def users(self) -> Mapping[int, str]:
        if self._users is None:
            self._users = node_users(self.host_root)
        return self._users

    def _same_process(self, process: Process, started_at: float) -> bool:
        """False when the pid now belongs to a process started after the scan's."""
        if self._boot_time is None:
            self._boot_time = boot_time(self.proc_root)
        if self._boot_time is None:
            return False
        expected = self._boot_time + process.start_time / self._ticks
        return abs(expected - started_at) < SAME_START_SECONDS
