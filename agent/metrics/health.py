"""The agent's own health series, prometheus-client metrics updated as scans happen, and the
exposition the scanner writes with each scan's results: the snapshot's families (`renderer`), then
these series. The series of a scan still running (nsinspect_scan_running_seconds,
nsinspect_scan_stuck) change between scans, so the server renders them from the heartbeat.

No `_created` series: a counter's or histogram's creation time is one more series each that no
rule or dashboard reads. `nsinspect_kube_api_up` exists only when the agent uses Kubernetes: an
agent told not to (`--no-kubernetes`, no cluster) is not one whose API is down, and 0 would
fire the alert meant for the latter."""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from .. import __version__
from ..model import Snapshot
from .pod_families import MetricsDetail
from .renderer import SnapshotRenderer

REVISION_ENV = "NSINSPECT_REVISION"  # the image's source revision (the Containerfile sets it)
UNKNOWN_REVISION = "unknown"
# Scans take ~10 ms on an idle node and ~0.3 s at 3,500 processes.
SCAN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class AgentMetrics:
    """The agent's own series, updated as scans happen, and the exposition of a scan.

    The snapshot's families are rendered once, by the scan thread right after each scan, and
    written with its results; every scrape until the next scan serves those bytes: a scrape costs
    the same whatever the number of pods, and never waits for a render.
    """

    def __init__(
        self, *, kubernetes: bool = False, detail: MetricsDetail = MetricsDetail.SHARED
    ) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # process-wide
        self.registry = CollectorRegistry(auto_describe=True)
        self.scan_duration = Histogram(
            "nsinspect_scan_duration_seconds", "Duration of a full scan.",
            buckets=SCAN_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.scan_errors = Counter(
            "nsinspect_scan_errors", "Entries a scan could not read, by stage.",
            ["stage"], registry=self.registry,
        )  # fmt: skip
        self._kube_api_up = (
            Gauge(
                "nsinspect_kube_api_up",
                "1 when the Kubernetes API answers the pod watch; 0 when not (runtime data "
                "only). Absent when the agent does not use Kubernetes.",
                registry=self.registry,
            )
            if kubernetes
            else None
        )
        build = Gauge(
            "nsinspect_build_info",
            "The agent's version and the source revision it was built from.",
            ["version", "revision"],
            registry=self.registry,
        )
        build.labels(__version__, build_revision()).set(1)
        ProcessCollector(registry=self.registry)  # the scanner's own RSS, CPU, open fds
        self._renderer = SnapshotRenderer(detail)
        self._snapshot_text = b""

    def observe_scan(self, snapshot: Snapshot, boot_seconds: float | None) -> None:
        """Count the scan and render its families for the scrapes to come."""
        self.scan_duration.observe(snapshot.duration_seconds)
        for error in snapshot.errors:
            self.scan_errors.labels(error.stage).inc()
        self._snapshot_text = self._renderer.render(snapshot, boot_seconds)

    def kube_api_answers(self, up: bool) -> None:
        """Whether the pod watch's API answers (nothing when Kubernetes is not used)."""
        if self._kube_api_up is not None:
            self._kube_api_up.set(1 if up else 0)

    def render(self) -> tuple[bytes, bytes]:
        """The snapshot's text as rendered after the scan, then the health series as of now
        (the scan's end). The text is handed over, not kept: once it is written to the results,
        the scanner has no use for its few MB."""
        text, self._snapshot_text = self._snapshot_text, b""
        return text, generate_latest(self.registry)


def build_revision() -> str:
    """The revision the image was built from (NSINSPECT_REVISION), else "unknown"."""
    return os.environ.get(REVISION_ENV, "").strip() or UNKNOWN_REVISION
