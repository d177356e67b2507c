"""What the scanner serves: each snapshot's results written for the server, the latest snapshot
kept for detail requests."""

from __future__ import annotations

from ..exchange.heartbeat import KubernetesState
from ..metrics.health import AgentMetrics
from ..metrics.pod_families import MetricsDetail
from ..model import Pod, Snapshot
from ..report import PodReport
from ..scanner import NodeReports
from .kube_intent import PodIntentWatcher
from .results_writer import ResultsWriter


class ServingState:
    """Written by the scan loop (`publish`), read by the detail socket's workers."""

    def __init__(
        self,
        writer: ResultsWriter,
        watcher: PodIntentWatcher | None,
        boot_seconds: float | None,
        metrics_detail: MetricsDetail = MetricsDetail.SHARED,
    ) -> None:
        self.writer = writer
        self.watcher = watcher
        self.boot_seconds = boot_seconds
        self.metrics_state = AgentMetrics(kubernetes=watcher is not None, detail=metrics_detail)
        self._snapshot: Snapshot | None = None

    def publish(self, snapshot: Snapshot) -> int:
        """A new snapshot: count it, render its metrics, write its results as the next
        generation (returned), and answer detail requests from it from now on."""
        self.metrics_state.observe_scan(snapshot, self.boot_seconds)
        if self.watcher is not None:
            self.metrics_state.kube_api_answers(self.watcher.up)
        generation = self.writer.write(snapshot, self.metrics_state.render())
        self._snapshot = snapshot
        return generation

    def kubernetes(self) -> tuple[KubernetesState, str | None]:
        """The pod watcher's state, for the heartbeat."""
        if self.watcher is None:
            return KubernetesState.DISABLED, None
        state = KubernetesState.UP if self.watcher.up else KubernetesState.DOWN
        return state, self.watcher.last_error

    def latest(self) -> Snapshot | None:
        return self._snapshot

    def pod_report(self, pod: Pod, snapshot: Snapshot) -> PodReport:
        """The single-pod report includes what is inside its namespaces (entered on request)."""
        return NodeReports(snapshot).pod_report(pod)
