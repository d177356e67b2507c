"""One scan of a node: proc scan -> host reference -> pins -> runtime identities -> pairing.

Each step is a module of its own; this one runs them in order. What may be reused between scans
lives in two places only: the proc scanner and the runtimes' identities (facts about processes
and containers that cannot change while they live), and the scan cache (conclusions, handed back
only for equal inputs).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

from ..discovery.fds import read_fd_pins
from ..discovery.hostref import choose_host_reference
from ..discovery.mounts import read_pins
from ..discovery.procfs import ProcScanner
from ..discovery.runtime_processes import RuntimeProcessReader
from ..model import (
    FoundBy,
    PodIntent,
    RuntimeLocation,
    ScanError,
    ScanStage,
    Snapshot,
    errno_name,
)
from ..pairing import PairingInput, unread_from
from ..runtimes.identities import NOT_PRESENT, IdentityResolution
from ..runtimes.registry import RuntimeRegistry, with_status
from ..runtimes.resolver import under_root
from .cache import ScanCache
from .config import ScanConfig
from .errors import ProcRootError
from .gc_pause import gc_paused
from .split_scan import split_scan

# Places named by the flags or by a runtime's process: reported even when absent.
ALWAYS_SHOWN = (FoundBy.FLAG, FoundBy.PROCESS)


def searchable_reason(host_root: str, location: RuntimeLocation) -> str | None:
    """None where a runtime's path can be looked at (there or not), else why not (EACCES): a
    runtime's state behind a directory the scanner may not search is unseen, not absent."""
    try:
        os.stat(under_root(host_root, location.path))
    except PermissionError as exc:
        return errno_name(exc)
    except (OSError, ValueError):
        return None
    return None


class SnapshotBuilder:
    def __init__(
        self,
        config: ScanConfig,
        intents: Callable[[], Mapping[str, PodIntent]] | None = None,
        split_first_scan: bool = False,
    ) -> None:
        """`intents` gives the Kubernetes pod specs by pod uid, when the API is reachable;
        `split_first_scan`: read the processes of the first scan on two cores (split_scan.py;
        for the CLI only, which has no threads)."""
        if not os.path.isdir(config.proc_root):
            raise ProcRootError(
                f"proc root {config.proc_root} does not exist or is not a directory"
            )
        self.config = config
        self.node_name = config.node_name or os.uname().nodename
        self.scanner = ProcScanner(config.proc_root)
        self.runtime_processes = RuntimeProcessReader(config.proc_root)
        self.registry = RuntimeRegistry(config.host_root, config.state_dirs, config.cri_sockets)
        self.identities = IdentityResolution()
        self.cache = ScanCache()
        self._intents = intents
        self._split_next_scan = split_first_scan
        # What the scan running now is doing, for the watchdog that tells where a scan is stuck;
        # `on_step` hears each change (the agent writes its heartbeat).
        self.on_step: Callable[[str], None] | None = None
        self._step = "idle"

    @property
    def step(self) -> str:
        return self._step

    @step.setter
    def step(self, step: str) -> None:
        self._step = step
        if self.on_step is not None:
            self.on_step(step)

    def _out_of_reach(self, location: RuntimeLocation, errors: list[ScanError]) -> str:
        """NOT_PRESENT for a runtime's path that is not on the node; the reason (recorded as a
        RUNTIME scan error) for one the scanner may not look at."""
        reason = searchable_reason(self.config.host_root, location)
        if reason is None:
            return NOT_PRESENT
        errors.append(ScanError(ScanStage.RUNTIME, reason, path=location.shown_path))
        return reason

    @gc_paused
    def build(self) -> Snapshot:
        started = time.monotonic()
        taken_at = time.time()
        try:
            return self._build(started, taken_at)
        finally:
            self.step = "idle"

    def _build(self, started: float, taken_at: float) -> Snapshot:
        self.step = "processes"
        try:
            if self._split_next_scan:
                self._split_next_scan = False
                scan = split_scan(self.scanner)
            else:
                scan = self.scanner.scan()
        except OSError as exc:
            raise ProcRootError(f"cannot list {self.config.proc_root}: {exc.strerror}") from exc
        errors = scan.errors
        host = choose_host_reference(self.scanner, scan.processes)
        self.step = "mounts"
        pins = read_pins(self.scanner.proc_root, host.pid, errors) if host.pid else []
        self.step = "fds"
        fd_pins = read_fd_pins(
            self.scanner.proc_root, scan.processes, host.namespaces.get("mnt"), errors
        )
        pins += fd_pins.pins
        self.step = "runtimes"
        memberships = self.cache.memberships(scan.processes)
        runtime_processes = self.runtime_processes.read(
            scan.processes, host.namespaces.get("mnt"), memberships.keys()
        )
        located = self.registry.locate(runtime_processes)
        identities, reasons = self.identities.identify(
            [entry.resolver for entry in located], memberships, scan.processes, errors
        )
        reasons = [
            reason if reason != NOT_PRESENT else self._out_of_reach(entry.location, errors)
            for entry, reason in zip(located, reasons, strict=True)
        ]
        runtimes = tuple(
            with_status(entry.location, reason)
            for entry, reason in zip(located, reasons, strict=True)
            # A layout or default path that is not on this node is no news.
            if reason != NOT_PRESENT or entry.location.found_by in ALWAYS_SHOWN
        )
        self.step = "pairing"
        result, findings = self.cache.pair(
            PairingInput(
                processes=scan.processes,
                memberships={pid: match.container_id for pid, match in memberships.items()},
                identities=identities,
                host=host,
                pins=pins,
                intents=self._intents() if self._intents is not None else {},
                unread=unread_from(errors),
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
            errors=(*errors, *result.unconcluded),
            runtimes=runtimes,
            proc_root=self.scanner.proc_root,
            host_root=self.config.host_root,
            zombies=scan.zombies,
            fds_skipped=fd_pins.skipped,
        )
