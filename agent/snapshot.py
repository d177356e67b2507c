"""The scan chain: proc scan -> host reference -> pins -> runtime identities -> pairing.

Each step is one module; this one only runs them in order and keeps what may be reused between
scans (the proc scanner's cache, the identities of containers already seen).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from nsinspect.agent.discovery.hostref import choose_host_reference
from nsinspect.agent.discovery.mounts import read_pins
from nsinspect.agent.discovery.procfs import ProcScanner
from nsinspect.agent.model import ContainerIdentity, Process, ScanError, Snapshot
from nsinspect.agent.pairing import PairingInput, pair
from nsinspect.agent.runtimes import default_resolvers
from nsinspect.agent.runtimes.base import RuntimeResolver
from nsinspect.agent.runtimes.cgroups import CgroupMatch, match_cgroup


@dataclass(frozen=True, slots=True)
class ScanConfig:
    proc_root: str = "/proc"
    host_root: str = "/"  # where the node's /run and /var/lib are: "/host" in a DaemonSet
    node_name: str = ""


class ProcRootError(Exception):
    """The proc root cannot be listed at all: nothing can be scanned."""


class SnapshotBuilder:
    def __init__(self, config: ScanConfig, resolvers: list[RuntimeResolver] | None = None) -> None:
        if not os.path.isdir(config.proc_root):
            raise ProcRootError(
                f"proc root {config.proc_root} does not exist or is not a directory"
            )
        self.config = config
        self.node_name = config.node_name or os.uname().nodename
        self.scanner = ProcScanner(config.proc_root)
        self.resolvers = default_resolvers(config.host_root) if resolvers is None else resolvers
        self._matches: dict[int, tuple[int, CgroupMatch | None]] = {}
        self._identities: dict[str, ContainerIdentity] = {}

    def build(self) -> Snapshot:
        started = time.monotonic()
        taken_at = time.time()
        try:
            scan = self.scanner.scan()
        except OSError as exc:
            raise ProcRootError(f"cannot list {self.config.proc_root}: {exc.strerror}") from exc
        errors = scan.errors
        host = choose_host_reference(self.scanner, scan.processes)
        pins = read_pins(self.scanner.proc_root, host.pid, errors) if host.pid else []
        memberships = self._memberships(scan.processes)
        runtimes = self._identify(memberships, errors)
        result = pair(
            PairingInput(
                processes=scan.processes,
                memberships={pid: match.container_id for pid, match in memberships.items()},
                identities=self._identities,
                host=host,
                pins=pins,
            )
        )
        return Snapshot(
            node=self.node_name,
            taken_at=taken_at,
            duration_seconds=time.monotonic() - started,
            host=host,
            processes=scan.processes,
            pods=result.pods,
            pinned=tuple(pins),
            orphans=result.orphans,
            errors=tuple(errors),
            runtimes=runtimes,
            proc_root=self.scanner.proc_root,
        )

    def _memberships(self, processes: dict[int, Process]) -> dict[int, CgroupMatch]:
        """pid -> the container its cgroup names; cached while the pid keeps its start time."""
        memberships: dict[int, CgroupMatch] = {}
        for pid, process in processes.items():
            cached = self._matches.get(pid)
            if cached is None or cached[0] != process.start_time:
                cached = (process.start_time, match_cgroup(process.cgroup_paths))
                self._matches[pid] = cached
            if cached[1] is not None:
                memberships[pid] = cached[1]
        for gone in self._matches.keys() - processes.keys():
            del self._matches[gone]
        return memberships

    def _identify(
        self, memberships: dict[int, CgroupMatch], errors: list[ScanError]
    ) -> dict[str, bool]:
        """Ask the runtimes about containers not identified yet; forget those that are gone."""
        live = {match.container_id: match for match in memberships.values()}
        for gone in self._identities.keys() - live.keys():
            del self._identities[gone]
        unknown = [match for cid, match in live.items() if cid not in self._identities]
        available = [r for r in self.resolvers if r.available()]
        if unknown:
            for resolver in available:
                resolver.refresh(errors)
            for match in unknown:
                for resolver in available:
                    identity = resolver.identify(match, errors)
                    if identity is not None:
                        self._identities[match.container_id] = identity
                        break
        return {r.name: r in available for r in self.resolvers}
