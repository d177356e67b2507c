"""One pod's snapshot without a scan of the whole node: what `nsinspect pod NAME` needs.

A full scan reads a dozen files of every process (stat, ten namespace links, cgroup). One pod's
report depends on far less: the processes in its network namespace (they form its group), the
node's reference namespaces and pins, and, for each namespace of its containers that is neither
the node's nor the pod's own, whether another pod's sandbox is in it (the `other` verdict). So
this reads one or a few namespace links of every process, and everything else only of the
processes that can matter; then it runs the same pairing as a scan, on those processes only.

Here: a pod found by its namespaces alone, named after its network namespace (`net-<inode>`,
the name a scan gives a group no runtime knows and nothing pins), whose report needs no cgroup
but those of the processes read; a runtime's pod is targeted_runtime.py's. Anything that cannot
be settled from what was read gives None, and the caller scans the whole node instead, so the
answer is the full scan's or none: no such pod (the full scan's errors say why), a pinned
network namespace, a process of the group in a container's cgroup (the runtimes then decide who
it is), and anything unreadable (the full scan says what it could not see, per cause).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Mapping

import msgspec

from ..discovery.fds import read_fd_pins
from ..discovery.hostref import choose_host_reference
from ..discovery.mounts import read_pins
from ..discovery.procfs import ZOMBIE, ProcScanner
from ..discovery.runtime_processes import RUNTIME_COMMS
from ..model import (
    ContainerIdentity,
    HostReference,
    HostReferenceKind,
    PinnedNamespace,
    Process,
    ScanError,
    ScanStage,
    Snapshot,
)
from ..pairing import PairingInput, compute_findings, pair, unread_from
from ..runtimes.cgroups import match_cgroup
from .config import ScanConfig
from .errors import ProcRootError
from .proc_links import LinkReader, UnsettledError, read_comm

# The name a scan gives a group no runtime knows whose network namespace nothing pins.
UNPINNED_GROUP_NAME = re.compile(r"net-(?P<inode>[1-9][0-9]{0,19})")
# A runtime-less group shares these three with its holder by definition: their verdicts are
# `pod`, never another pod's.
GROUP_TYPES = frozenset({"net", "ipc", "uts"})
HOST_INIT_PID = 1


class Surroundings(msgspec.Struct):
    """What a targeted scan has read so far: processes whole, links of every process."""

    started: float  # monotonic
    taken_at: float
    links: LinkReader
    processes: dict[int, Process]
    errors: list[ScanError]
    host: HostReference
    runtimes: dict[int, Process]  # the runtimes' own processes (by comm, then executable)
    pins: list[PinnedNamespace]
    fds_skipped: int


class TargetedScan:
    """Snapshots of one pod's surroundings. It needs none of the runtimes' clients, so it
    imports none (the CRI's gRPC alone takes longer to import than this takes to read)."""

    def __init__(self, config: ScanConfig, scanner: ProcScanner | None = None) -> None:
        """`scanner`: one kept from an earlier scan (its per-process caches), else a new one."""
        if not os.path.isdir(config.proc_root):
            raise ProcRootError(
                f"proc root {config.proc_root} does not exist or is not a directory"
            )
        self.config = config
        self.scanner = scanner or ProcScanner(config.proc_root)
        self.proc_root = self.scanner.proc_root
        self.node_name = config.node_name or os.uname().nodename

    def snapshot(self, name: str, namespace: str | None, runtimes: bool = True) -> Snapshot | None:
        """A snapshot holding the pod called `name` and everything its report depends on, or
        None when that cannot be settled without a full scan (see the module). `runtimes`:
        whether a runtime's pod may be answered so (not where the API server may name pods:
        the full scan then lists the node's pods and gives each its spec)."""
        found = UNPINNED_GROUP_NAME.fullmatch(name)
        try:
            if found is not None and namespace in (None, ""):
                return self._group_snapshot(int(found.group("inode")))
            if runtimes:
                from .targeted_runtime import runtime_pod_snapshot  # the runtimes' clients

                return runtime_pod_snapshot(self, name, namespace)
        except UnsettledError:
            return None
        return None

    def surroundings(self) -> Surroundings:
        """What every pod's report needs: the node's reference namespaces, its pins, and one
        link per type of every process on demand."""
        started, taken_at = time.monotonic(), time.time()
        try:
            pids = self.scanner.pids()
        except OSError as exc:
            raise UnsettledError(str(exc)) from exc
        errors: list[ScanError] = []
        processes: dict[int, Process] = {}
        self.read(processes, [HOST_INIT_PID], errors)
        host = choose_host_reference(self.scanner, processes)
        links = LinkReader(self.proc_root, pids, dict(processes))
        runtimes = self._runtime_processes(links, host, processes, errors)
        pins = read_pins(self.proc_root, host.pid, errors) if host.pid else []
        fd_pins = read_fd_pins(self.proc_root, runtimes, host.namespaces.get("mnt"), errors)
        return Surroundings(
            started, taken_at, links, processes, errors, host, runtimes,
            [*pins, *fd_pins.pins], fd_pins.skipped,
        )  # fmt: skip

    def _group_snapshot(self, net: int) -> Snapshot:
        around = self.surroundings()
        if around.host.namespaces.get("net") == net:
            raise UnsettledError("the node's own network namespace forms no group")
        if any(pin.ns_type == "net" and pin.inode == net for pin in around.pins):
            # A pinned network namespace goes by its pin's name, and may be the sandbox of a
            # runtime's pod whose pause is gone: the runtimes must be asked.
            raise UnsettledError("the network namespace is pinned")
        members = around.links.holding("net", net)
        self.read(around.processes, members, around.errors)
        considered = self.close_over(
            around, members, GROUP_TYPES, lambda holders: self.with_networks(around, holders)
        )
        settled(around.errors, around.host)
        for pid in considered:
            process = around.processes.get(pid)
            if process and process.cgroup_paths and match_cgroup(process.cgroup_paths):
                raise UnsettledError(f"pid {pid} is in a container's cgroup")  # a runtime's
        return self.finish(around, {}, {})

    def close_over(
        self,
        around: Surroundings,
        members: Iterable[int],
        shared: frozenset[str],
        expand: Callable[[list[int]], Iterable[int]],
    ) -> set[int]:
        """Read what may be another pod's sandbox: every process in a namespace of `members`
        that is neither the node's nor `shared` by them all by definition (any of them may be
        a container's init), `expand`ed to what tells whether it is one (the group it would
        hold, its pod). One link of every process per such type. The pids considered,
        `members` included."""
        considered = set(members)
        foreign = foreign_namespaces(around.processes, members, around.host, shared)
        for ns_type, inode in sorted(foreign):
            added = list(expand(around.links.holding(ns_type, inode)))
            self.read(around.processes, added, around.errors)
            considered.update(added)
        return considered

    def with_networks(self, around: Surroundings, pids: Iterable[int]) -> list[int]:
        """`pids` with the rest of each one's network namespace but the node's: the group a
        process would hold, complete."""
        links, host_net = around.links, around.host.namespaces.get("net")
        found = list(pids)
        for net in {links.inode("net", pid) for pid in found} - {None, host_net}:
            found += links.holding("net", net) if net is not None else []
        return found

    def finish(
        self,
        around: Surroundings,
        memberships: Mapping[int, str],
        identities: Mapping[str, ContainerIdentity],
    ) -> Snapshot:
        """Pair what was read as a scan does, into a snapshot of those processes."""
        given = PairingInput(
            processes=around.processes,
            memberships=memberships,
            identities=identities,
            host=around.host,
            pins=tuple(around.pins),
            intents={},
            unread=unread_from(around.errors),
        )
        result = pair(given)
        return Snapshot(
            node=self.node_name,
            taken_at=around.taken_at,
            duration_seconds=time.monotonic() - around.started,
            host=around.host,
            processes=around.processes,
            pods=result.pods,
            pinned=tuple(around.pins),
            # Orphans need every process: the pins in use by processes not read here would look
            # unused. They are no part of a pod's report.
            findings=compute_findings(result.pods, (), given.unread),
            errors=(*around.errors, *result.unconcluded),
            proc_root=self.proc_root,
            host_root=self.config.host_root,
            fds_skipped=around.fds_skipped,
        )

    def read(
        self, processes: dict[int, Process], pids: Iterable[int], errors: list[ScanError]
    ) -> None:
        for pid in pids:
            if pid in processes:
                continue
            process = self.scanner.read_process(pid, errors)
            if process is not None and process is not ZOMBIE:
                processes[pid] = process

    def _runtime_processes(
        self,
        links: LinkReader,
        host: HostReference,
        processes: dict[int, Process],
        errors: list[ScanError],
    ) -> dict[int, Process]:
        """The processes that may be a runtime's (its comm, in the node's mount namespace: see
        discovery.runtime_processes), read whole for their fd pins."""
        host_mnt = host.namespaces.get("mnt")
        if host_mnt is None:
            raise UnsettledError("the node's mount namespace is unknown")
        candidates = [
            pid
            for pid in links.holding("mnt", host_mnt)
            if pid not in processes and read_comm(self.proc_root, pid) in RUNTIME_COMMS
        ]
        self.read(processes, candidates, errors)
        return {pid: processes[pid] for pid in candidates if pid in processes}


def foreign_namespaces(
    processes: Mapping[int, Process],
    members: Iterable[int],
    host: HostReference,
    shared: frozenset[str],
) -> set[tuple[str, int]]:
    """The namespaces of `members` that are neither the node's nor `shared` (by all of them,
    by definition): where another pod's sandbox may be."""
    foreign = set()
    for pid in members:
        process = processes.get(pid)
        if process is None:
            continue
        for ns_type, inode in process.namespaces.items():
            if ns_type in shared or inode is None:
                continue
            if inode != host.namespaces.get(ns_type):
                foreign.add((ns_type, inode))
    return foreign


def settled(errors: Iterable[ScanError], host: HostReference) -> None:
    """UnsettledError when anything read failed (but for a process that exited, and pid 1's
    links where the node's reference is kthreadd's, as the full scan's summary counts them):
    the full scan then says what it could not see."""
    failed = [
        error
        for error in errors
        if not error.process_gone
        and not (
            error.stage is ScanStage.NS
            and error.pid == HOST_INIT_PID
            and host.kind is HostReferenceKind.KTHREADD
        )
    ]
    if failed:
        raise UnsettledError(f"{len(failed)} reads failed, the first: {failed[0]}")
