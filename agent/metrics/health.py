"""The agent's own health series, prometheus-client metrics updated as scans happen, and the
exposition the scanner writes with each scan's results: the snapshot's families (`renderer`), then
these series. The series of a scan still running (nsinspect_scan_running_seconds,
nsinspect_scan_stuck) change between scans, so the server renders them from the heartbeat."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from .. import __version__
from ..model import Snapshot
from .renderer import SnapshotRenderer

# Scans take ~10 ms on an idle node and ~0.3 s at 3,500 processes.
SCAN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class AgentMetrics:
    """The agent's own series, updated as scans happen, and the exposition of a scan.

    The snapshot's families are rendered once, by the scan thread right after each scan, and
    written with its results; every scrape until the next scan serves those bytes: a scrape costs
    the same whatever the number of pods, and never waits for a render.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.scan_duration = Histogram(
            "nsinspect_scan_duration_seconds", "Duration of a full scan.",
            buckets=SCAN_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.scan_errors = Counter(
            "nsinspect_scan_errors", "Entries a scan could not read, by stage.",
            ["stage"], registry=self.registry,
        )  # fmt: skip
        self.kube_api_up = Gauge(
            "nsinspect_kube_api_up",
            "1 when the Kubernetes API answers the pod watch; 0 when not (runtime data only).",
            registry=self.registry,
        )
        build = Gauge(
            "nsinspect_build_info", "The agent's version.", ["version"], registry=self.registry
        )
        build.labels(__version__).set(1)
        ProcessCollector(registry=self.registry)  # the scanner's own RSS, CPU, open fds
        self._renderer = SnapshotRenderer()
        self._snapshot_text = b""

    def observe_scan(self, snapshot: Snapshot, boot_seconds: float | None) -> None:
        """Count the scan and render its families for the scrapes to come."""
        self.scan_duration.observe(snapshot.duration_seconds)
        for error in snapshot.errors:
            self.scan_errors.labels(error.stage).inc()
        self._snapshot_text = self._renderer.render(snapshot, boot_seconds)

    def render(self) -> tuple[bytes, bytes]:
        """The snapshot's text as rendered after the scan, then the health series as of now
        (the scan's end). The text is handed over, not kept: once it is written to the results,
        the scanner has no use for its few MB."""
        text, self._snapshot_text = self._snapshot_text, b""
        return text, generate_latest(self.registry)
