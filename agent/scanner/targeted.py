"""One pod's snapshot without a scan of the whole node: what `nsinspect pod NAME` needs.

A full scan reads a dozen files of every process (stat, ten namespace links, cgroup). One pod's
report depends on far less: the processes in its network namespace (they form its group), the
node's reference namespaces and pins, and, for each namespace of its containers that is neither
the node's nor the pod's own, whether another pod's sandbox is in it (the `other` verdict). So
this reads one or a few namespace links of every process, and everything else only of the
processes that can matter; then it runs the same pairing as a scan, on those processes only.

It answers for a pod found by its namespaces alone and named after its network namespace
(`net-<inode>`), the name a scan gives a group no runtime knows and nothing pins. Anything it
cannot settle from what it read gives None, and the caller scans the whole node instead, so the
answer is the full scan's or none: a name that is not such a pod (a runtime's pod, a pinned
network namespace's name, no pod at all: the full scan's errors say which), a process of the
pod's namespaces in a container's cgroup (the runtimes then decide who it is), and anything
unreadable (a link, a stat, a cgroup: the full scan says what it could not see, per cause).
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Iterable, Mapping

from ..discovery.fds import read_fd_pins
from ..discovery.hostref import choose_host_reference
from ..discovery.mounts import read_pins
from ..discovery.procfs import ZOMBIE, ProcScanner, parse_ns_link
from ..discovery.runtime_processes import RUNTIME_COMMS
from ..model import (
    HostReference,
    HostReferenceKind,
    Process,
    ScanError,
    ScanStage,
    Snapshot,
)
from ..pairing import PairingInput, compute_findings, pair, unread_from
from ..runtimes.cgroups import match_cgroup
from .config import ScanConfig
from .errors import ProcRootError

# The name a scan gives a group no runtime knows whose network namespace nothing pins.
UNPINNED_GROUP_NAME = re.compile(r"net-(?P<inode>[1-9][0-9]{0,19})")
# A runtime-less group shares these three with its holder by definition: their verdicts are
# `pod`, never another pod's.
GROUP_TYPES = frozenset({"net", "ipc", "uts"})
HOST_INIT_PID = 1
# A comm is at most 15 bytes and a newline; procfs files open without blocking all the same.
COMM_CAP = 64
COMM_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsettledError(Exception):
    """What was read cannot settle the pod's report: scan the whole node instead."""


class LinkReader:
    """One namespace link of every process, read once per type and kept as the kernel wrote
    it (`net:[4026531840]`): most are only compared, and parsing thousands costs more than
    reading them. A process gone meanwhile is left out; any other failure is UnsettledError
    (the full scan says what it was). The processes already read whole (pid 1, whose links a
    VM may refuse even to root, as a full scan finds too) give their links as read."""

    def __init__(self, proc_root: str, pids: Iterable[int], known: Mapping[int, Process]) -> None:
        self.proc_root = proc_root
        self.known = known
        self.pids = [pid for pid in pids if pid not in known]
        self._links: dict[str, dict[int, str]] = {}

    def holding(self, ns_type: str, inode: int) -> list[int]:
        """The pids in namespace `inode` of `ns_type`."""
        suffix = f":[{inode}]"
        found = [pid for pid, link in self._read(ns_type).items() if link.endswith(suffix)]
        found += [p.pid for p in self.known.values() if p.namespaces.get(ns_type) == inode]
        return found

    def inode(self, ns_type: str, pid: int) -> int | None:
        process = self.known.get(pid)
        if process is not None:
            return process.namespaces.get(ns_type)
        link = self._read(ns_type).get(pid)
        try:
            return None if link is None else parse_ns_link(link)
        except ValueError as exc:
            raise UnsettledError(f"{self.proc_root}/{pid}/ns/{ns_type}: {exc}") from exc

    def _read(self, ns_type: str) -> dict[int, str]:
        links = self._links.get(ns_type)
        if links is not None:
            return links
        links = {}
        root = self.proc_root
        for pid in self.pids:
            try:
                links[pid] = os.readlink(f"{root}/{pid}/ns/{ns_type}")
            except FileNotFoundError:
                # A process that exited, or a kernel without the type: no link for either.
                continue
            except OSError as exc:
                raise UnsettledError(f"{root}/{pid}/ns/{ns_type}: {exc}") from exc
        self._links[ns_type] = links
        return links


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

    def snapshot(self, name: str, namespace: str | None) -> Snapshot | None:
        """A snapshot holding the pod called `name` and everything its report depends on, or
        None when that cannot be settled without a full scan (see the module)."""
        found = UNPINNED_GROUP_NAME.fullmatch(name)
        if found is None or namespace not in (None, ""):
            return None  # runtime-less groups have no Kubernetes namespace
        try:
            return self._snapshot(int(found.group("inode")))
        except UnsettledError:
            return None

    def _snapshot(self, net: int) -> Snapshot:
        started, taken_at = time.monotonic(), time.time()
        try:
            pids = self.scanner.pids()
        except OSError as exc:
            raise UnsettledError(str(exc)) from exc
        errors: list[ScanError] = []
        processes: dict[int, Process] = {}
        self._read(processes, [HOST_INIT_PID], errors)
        host = choose_host_reference(self.scanner, processes)
        links = LinkReader(self.proc_root, pids, dict(processes))
        if host.namespaces.get("net") == net:
            raise UnsettledError("the node's own network namespace forms no group")
        runtimes = self._runtime_processes(links, host, processes, errors)
        pins = read_pins(self.proc_root, host.pid, errors) if host.pid else []
        fd_pins = read_fd_pins(self.proc_root, runtimes, host.namespaces.get("mnt"), errors)
        pins += fd_pins.pins
        if any(pin.ns_type == "net" and pin.inode == net for pin in pins):
            # A pinned network namespace goes by its pin's name, and may be the sandbox of a
            # runtime's pod whose pause is gone: the runtimes must be asked.
            raise UnsettledError("the network namespace is pinned")

        members = links.holding("net", net)
        self._read(processes, members, errors)
        # What may be another pod's sandbox: every process in a namespace of the group's that
        # is neither the node's nor the group's by definition (any of the group's processes may
        # be a container's init), with the rest of its network namespace (the group it would
        # hold). One link of every process per such type.
        considered = set(members)
        for ns_type, inode in sorted(_foreign_namespaces(processes, members, host)):
            holders = links.holding(ns_type, inode)
            holder_nets = {pid: links.inode("net", pid) for pid in holders}
            for holder_net in {n for n in holder_nets.values() if n is not None and n != net}:
                if holder_net == host.namespaces.get("net"):
                    # In no group; a runtime pod's sandbox only if in a container's cgroup.
                    in_net = [pid for pid, n in holder_nets.items() if n == holder_net]
                else:
                    in_net = links.holding("net", holder_net)
                self._read(processes, in_net, errors)
                considered.update(in_net)
        _settled({pid: processes[pid] for pid in considered if pid in processes}, errors, host)

        given = PairingInput(
            processes=processes,
            memberships={},
            identities={},
            host=host,
            pins=tuple(pins),
            intents={},
            unread=unread_from(errors),
        )
        result = pair(given)
        pods = result.pods
        return Snapshot(
            node=self.node_name,
            taken_at=taken_at,
            duration_seconds=time.monotonic() - started,
            host=host,
            processes=processes,
            pods=pods,
            pinned=tuple(pins),
            # Orphans need every process: the pins in use by processes not read here would look
            # unused. They are no part of a pod's report.
            findings=compute_findings(pods, (), given.unread),
            errors=(*errors, *result.unconcluded),
            proc_root=self.proc_root,
            host_root=self.config.host_root,
            fds_skipped=fd_pins.skipped,
        )

    def _read(
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
            if pid not in processes and self._comm(pid) in RUNTIME_COMMS
        ]
        self._read(processes, candidates, errors)
        return {pid: processes[pid] for pid in candidates if pid in processes}

    def _comm(self, pid: int) -> str:
        """A process's comm ("" once it exited): a runtime's is the first hint of one."""
        path = f"{self.proc_root}/{pid}/comm"
        try:
            handle = os.open(path, COMM_FLAGS)
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise UnsettledError(f"{path}: {exc}") from exc
        try:
            return os.read(handle, COMM_CAP).decode("utf-8", "replace").removesuffix("\n")
        except OSError as exc:
            if exc.errno == errno.ESRCH:
                return ""
            raise UnsettledError(f"{path}: {exc}") from exc
        finally:
            os.close(handle)


def _foreign_namespaces(
    processes: Mapping[int, Process], members: Iterable[int], host: HostReference
) -> set[tuple[str, int]]:
    """The namespaces of the group's processes that are neither the node's nor shared by the
    whole group by definition: where another pod's sandbox may be."""
    foreign = set()
    for pid in members:
        process = processes.get(pid)
        if process is None:
            continue
        for ns_type, inode in process.namespaces.items():
            if ns_type in GROUP_TYPES or inode is None:
                continue
            if inode != host.namespaces.get(ns_type):
                foreign.add((ns_type, inode))
    return foreign


def _settled(
    processes: Mapping[int, Process], errors: Iterable[ScanError], host: HostReference
) -> None:
    """UnsettledError when anything read failed (but for a process that exited, and pid 1's
    links where the node's reference is kthreadd's, as the full scan's summary counts them),
    or when one of `processes` (those that may be in a pod) is in a container's cgroup: then a
    runtime may say who it is. A runtime's own processes (read for their fds) may be in one."""
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
    for process in processes.values():
        if process.cgroup_paths and match_cgroup(process.cgroup_paths) is not None:
            raise UnsettledError(f"pid {process.pid} is in a container's cgroup")
