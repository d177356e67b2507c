"""What a scan could not read, as far as it limits what pairing may conclude.

A finding is concluded only from data that was read. A pinned namespace is an orphan only when
every process's link of its type was read: one unreadable link could be in it. A sandbox is
missing only when every process and its cgroup, the mount table and the runtimes' fd tables were
read (a process named like a runtime whose mount namespace is unread counts as an unread fd
table): the sandbox process, or the pin that holds its namespaces, could be among the unread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import msgspec

from ..model import Process, ScanError, ScanStage

# pid 1 is the design's host reference and is unreadable even to root on some VMs; kthreadd stands
# in for it there (discovery.hostref). Its unreadable links are not taken to hide anything.
HOST_INIT_PID = 1


class Unread(msgspec.Struct, frozen=True):
    """Counts of what could not be read, from one scan's errors (a process that vanished is gone,
    not unread)."""

    processes: int = 0  # /proc/<pid> or its stat: the process is not among the scanned
    cgroups: int = 0  # processes whose /proc/<pid>/cgroup could not be read
    mount_tables: int = 0  # the node's mount table (bind-mount pins)
    fd_tables: int = 0  # runtime processes whose fd table was not (wholly) read

    @property
    def sandbox_hidden(self) -> str:
        """Why a sandbox process or its pins could be among what was not read ("" if nothing)."""
        parts = [
            f"{count} {what}"
            for count, what in (
                (self.processes, "unreadable processes"),
                (self.cgroups, "unreadable cgroup files"),
                (self.mount_tables, "unreadable mount table"),
                (self.fd_tables, "unread runtime fd tables"),
            )
            if count
        ]
        return ", ".join(parts)


NOTHING_UNREAD = Unread()
STAGE_FIELDS = {
    ScanStage.STAT: "processes",
    ScanStage.CGROUP: "cgroups",
    ScanStage.MOUNTS: "mount_tables",
    ScanStage.FDS: "fd_tables",
}


def unread_from(errors: Iterable[ScanError]) -> Unread:
    """The counts of a scan's errors that hide something; each pid or path counts once."""
    seen: dict[str, set[object]] = {name: set() for name in STAGE_FIELDS.values()}
    for error in errors:
        name = STAGE_FIELDS.get(error.stage)
        if name is None or error.process_gone:
            continue
        seen[name].add(error.pid if error.pid is not None else error.path)
    return Unread(**{name: len(keys) for name, keys in seen.items()})


def unreadable_links(processes: Mapping[int, Process], ns_types: Iterable[str]) -> dict[str, str]:
    """For each of `ns_types` whose link some process's could not be read: how many and why, as
    `the net links of 4 processes could not be read (EACCES)`."""
    wanted = set(ns_types)
    counts: dict[str, Counter[str]] = {}
    for process in processes.values():
        if not process.ns_errors or process.pid == HOST_INIT_PID:
            continue
        for ns_type, reason in process.ns_errors.items():
            if ns_type in wanted:
                counts.setdefault(ns_type, Counter())[reason] += 1
    return {
        ns_type: (
            f"the {ns_type} links of {sum(reasons.values())} processes could not be read "
            f"({', '.join(sorted(reasons))})"
        )
        for ns_type, reasons in sorted(counts.items())
    }
