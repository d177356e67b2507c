"""The scan chain: proc scan -> host reference -> pins -> runtime identities -> pairing.

Each step is one module; this one only runs them in order and keeps what may be reused between
scans (the proc scanner's cache, the identities of containers already seen).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from nsinspect.agent.discovery.fds import read_fd_pins
from nsinspect.agent.discovery.hostref import choose_host_reference
from nsinspect.agent.discovery.mounts import read_pins
from nsinspect.agent.discovery.procfs import ProcScanner
from nsinspect.agent.findings import compute_findings
from nsinspect.agent.gcpause import gc_paused
from nsinspect.agent.model import Finding, PodIntent, Process, Snapshot
from nsinspect.agent.pairing import PairingInput, PairingMemo, PairingResult, pair
from nsinspect.agent.runtimes import default_resolvers
from nsinspect.agent.runtimes.base import RuntimeResolver
from nsinspect.agent.runtimes.cgroups import CgroupMatch, match_cgroup
from nsinspect.agent.runtimes.chain import IdentityChain


@dataclass(frozen=True, slots=True)
class ScanConfig:
    proc_root: str = "/proc"
    host_root: str = "/"  # where the node's /run and /var/lib are: "/host" in a DaemonSet
    node_name: str = ""
    # CRI sockets (node paths); None: containerd's and CRI-O's usual ones, where present.
    cri_sockets: tuple[str, ...] | None = None
    # runtime -> state directory (node path), where not the default; see runtimes.STATE_DIRS.
    state_dirs: Mapping[str, str] = field(default_factory=dict)


# What pairing concludes from one scan: pods and orphans, and the findings about them.
Paired = tuple[PairingResult, tuple[Finding, ...]]


class ProcRootError(Exception):
    """The proc root cannot be listed at all: nothing can be scanned."""


class SnapshotBuilder:
    def __init__(
        self,
        config: ScanConfig,
        resolvers: list[RuntimeResolver] | None = None,
        intents: Callable[[], Mapping[str, PodIntent]] | None = None,
    ) -> None:
        """`intents` gives the Kubernetes pod specs by pod uid, when the API is reachable."""
        if not os.path.isdir(config.proc_root):
            raise ProcRootError(
                f"proc root {config.proc_root} does not exist or is not a directory"
            )
        self.config = config
        self.node_name = config.node_name or os.uname().nodename
        self.scanner = ProcScanner(config.proc_root)
        self.resolvers = (
            default_resolvers(config.host_root, config.state_dirs, config.cri_sockets)
            if resolvers is None
            else resolvers
        )
        self.identities = IdentityChain(self.resolvers)
        self._matches: dict[int, tuple[int, CgroupMatch | None]] = {}
        self._last_paired: tuple[PairingInput, Paired] | None = None
        self._pairing_memo = PairingMemo()
        self._intents = intents

    @gc_paused
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
        pins += read_fd_pins(self.scanner.proc_root, scan.processes, errors)
        memberships = self._memberships(scan.processes)
        identities, runtimes = self.identities.identify(memberships, scan.processes, errors)
        result, findings = self._paired(
            PairingInput(
                processes=scan.processes,
                memberships={pid: match.container_id for pid, match in memberships.items()},
                identities=identities,
                host=host,
                pins=pins,
                intents=self._intents() if self._intents is not None else {},
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
            findings=findings,
            errors=tuple(errors),
            runtimes=runtimes,
            proc_root=self.scanner.proc_root,
        )

    def _paired(self, given: PairingInput) -> Paired:
        """Pairing and findings are pure functions of their input: a scan that finds exactly
        what the previous one found reuses its result. The scanner hands back the very same
        Process object for a process that reads as before, so the comparison is one identity
        check per process; anything that changed (a process, a pin, an identity, an intent)
        makes it pair again, and the pairing memo spares the pods that did not change."""
        previous = self._last_paired
        if previous is not None and previous[0] == given:
            return previous[1]
        result = pair(given, self._pairing_memo)
        paired = (result, compute_findings(result.pods, result.orphans))
        self._last_paired = (given, paired)
        return paired

    def _memberships(self, processes: dict[int, Process]) -> dict[int, CgroupMatch]:
        """pid -> the container its cgroup names; cached while the pid keeps its start time."""
        memberships: dict[int, CgroupMatch] = {}
        # Processes share a handful of cgroups: match each distinct set of paths once a scan.
        by_paths: dict[tuple[str, ...], CgroupMatch | None] = {}
        for pid, process in processes.items():
            cached = self._matches.get(pid)
            if cached is None or cached[0] != process.start_time:
                paths = process.cgroup_paths
                if paths not in by_paths:
                    by_paths[paths] = match_cgroup(paths)
                cached = (process.start_time, by_paths[paths])
                self._matches[pid] = cached
            if cached[1] is not None:
                memberships[pid] = cached[1]
        for gone in self._matches.keys() - processes.keys():
            del self._matches[gone]
        return memberships
