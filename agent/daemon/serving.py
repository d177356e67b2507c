"""What the HTTP API serves: the latest snapshot, its metrics rendered once, readiness."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..metrics.health import AgentMetrics
from ..model import Pod, Snapshot
from ..report import PodReport
from ..scanner import NodeReports
from .kube_intent import PodIntentWatcher
from .watchdog import ScanWatchdog

STALE_AFTER_INTERVALS = 3


class ServingState:
    """Written by the scan loop (`publish`), read by the HTTP API's threads."""

    def __init__(
        self,
        interval: float,
        watcher: PodIntentWatcher | None,
        boot_seconds: float | None,
        watchdog: ScanWatchdog,
    ) -> None:
        self.interval = interval
        self.watcher = watcher
        self.watchdog = watchdog
        self.boot_seconds = boot_seconds
        self.metrics_state = AgentMetrics()
        self._snapshot: Snapshot | None = None
        self._last_scan_monotonic: float | None = None

    def publish(self, snapshot: Snapshot) -> None:
        """A new snapshot: count it, render its metrics, and serve it from now on."""
        self.metrics_state.observe_scan(snapshot, self.boot_seconds)
        self._kube_api_up()
        self._snapshot = snapshot
        self._last_scan_monotonic = time.monotonic()

    def _kube_api_up(self) -> None:
        self.metrics_state.kube_api_up.set(1 if self.watcher and self.watcher.up else 0)

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Alive unless a scan has run longer than the watchdog's limit: then kubelet's liveness
        probe restarts the agent, since no thread can be pulled out of a blocked read."""
        running = self.watchdog.running()
        if running is None or not running.stuck:
            return True, {"status": "ok"}
        return False, {
            "status": "stuck",
            "reason": f"a scan has been running for {running.seconds:.0f} s, in step "
            f"{running.step!r}; the limit is {self.watchdog.limit:g} s",
        }

    def latest(self) -> Snapshot | None:
        return self._snapshot

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        age = (
            None
            if self._last_scan_monotonic is None
            else time.monotonic() - self._last_scan_monotonic
        )
        limit = STALE_AFTER_INTERVALS * self.interval
        ready = age is not None and age <= limit
        if self.watcher is None:
            kube = {"state": "disabled"}
        else:
            kube = {"state": "up" if self.watcher.up else "down", "error": self.watcher.last_error}
        detail: dict[str, Any] = {
            "last_scan_age_seconds": None if age is None else round(age, 3),
            "stale_after_seconds": limit,
            "kube_api": kube,
        }
        if age is None:
            detail["reason"] = "no scan has completed yet"
        elif not ready:
            detail["reason"] = f"the latest scan is {age:.0f} s old"
        return ready, detail

    def metrics(self) -> Sequence[bytes]:
        self._kube_api_up()
        running = self.watchdog.running()
        if running is None:
            self.metrics_state.observe_running(None, 0.0, stuck=False)
        else:
            self.metrics_state.observe_running(running.step, running.seconds, running.stuck)
        return self.metrics_state.render()

    def pod_report(self, pod: Pod, snapshot: Snapshot) -> PodReport:
        """The single-pod report includes what is inside its namespaces (entered on request)."""
        return NodeReports(snapshot).pod_report(pod)
