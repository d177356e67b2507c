"""The scanner's lifecycle: wire the scan loop, the results it writes, its heartbeat, the detail
socket and the Kubernetes watcher, run them, and stop everything within a second of
SIGTERM/SIGINT.

The scanner holds the privileges and listens on no network socket: it writes each scan's results
to the results directory and answers detail requests on a unix socket there; the unprivileged
server (agent/server) serves HTTP from both. Threads: the scan loop (one full scan per interval;
later scans reuse what cannot have changed), the Kubernetes watcher (only when a cluster is
configured), the detail socket's acceptor and workers. The main thread waits for a signal and
logs a scan stuck past the watchdog's limit.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from ..discovery.procfs import boot_time
from ..exchange.memory import pin_mmap_threshold
from ..metrics.pod_families import MetricsDetail
from ..scanner import ScanConfig, SnapshotBuilder
from .detail_server import DetailServer
from .kube_intent import PodIntentWatcher, api_for
from .results_writer import ResultsWriter
from .scan_loop import ScanLoop
from .serving import ServingState
from .watchdog import ScanWatchdog, default_limit

__all__ = ["Agent", "AgentConfig", "MetricsDetail", "kubernetes_wanted"]  # MetricsDetail: the CLI's

LOG = logging.getLogger("nsinspect.agent")
SWITCH_INTERVAL_SECONDS = 0.001
IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
CHECK_SECONDS = 1.0  # how often the main thread looks for a stuck scan to log (at most)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    scan: ScanConfig
    interval: float = 15.0
    kubeconfig: str | None = None
    kube_context: str | None = None
    kubernetes: bool | None = None  # None: when a kubeconfig is given or running in a cluster
    scan_timeout: float | None = None  # a scan running longer fails /healthz; None: the default
    results_dir: Path = Path("/run/nsinspect")  # the DaemonSet's shared in-memory volume
    metrics_detail: MetricsDetail = MetricsDetail.SHARED  # which series each container has


def kubernetes_wanted(config: AgentConfig) -> bool:
    if config.kubernetes is not None:
        return config.kubernetes
    return bool(config.kubeconfig) or IN_CLUSTER_ENV in os.environ


class Agent:
    """The scanner role of `nsinspect agent`."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.watcher: PodIntentWatcher | None = None
        if kubernetes_wanted(config):
            self.watcher = PodIntentWatcher(
                lambda: api_for(config.kubeconfig, config.kube_context),
                config.scan.node_name or os.uname().nodename,
                self.stop_event,
            )
        builder = SnapshotBuilder(
            config.scan, intents=self.watcher.intents if self.watcher else None
        )
        self.serving = ServingState(
            ResultsWriter(config.results_dir),
            self.watcher,
            boot_time(builder.scanner.proc_root),
            config.metrics_detail,
        )
        self.watchdog = ScanWatchdog(
            config.results_dir,
            builder.node_name,
            config.interval,
            config.scan_timeout or default_limit(config.interval),
            self.serving.kubernetes,
        )
        builder.on_step = self.watchdog.step_changed
        self.scan_loop = ScanLoop(
            builder, config.interval, self.stop_event, self.serving.publish, self.watchdog
        )
        self.detail = DetailServer(config.results_dir, self.serving)

    def run(self, on_started: Callable[[], None] | None = None) -> None:
        """Scan until SIGTERM or SIGINT (or `stop_event`). `on_started` is called once the
        results directory, the first heartbeat and the detail socket exist. Raises OSError when
        they cannot be made."""
        pin_mmap_threshold()
        # A detail request that arrives during a scan needs the GIL back after each of its system
        # calls, and a scan running Python code gives it up only every switch interval (5 ms by
        # default). At 1 ms, /metrics p99 at 3,500 processes went from 30-80 ms to 39-50 ms
        # (3 runs each on a shared 2-CPU machine, when one process served both).
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        self.serving.writer.prepare()
        self.watchdog.write()
        self.detail.start()
        try:
            self._run(on_started)
        finally:
            self.stop_event.set()  # when on_started failed, the threads stop too
            self.detail.stop()
        # A scan still running is left to die with the process: it only reads.
        LOG.info("scanner stopped")

    def _run(self, on_started: Callable[[], None] | None) -> None:
        LOG.info(
            "scanner started",
            extra={
                "fields": {
                    "results_dir": str(self.config.results_dir),
                    "interval_seconds": self.config.interval,
                    "proc_root": self.config.scan.proc_root,
                    "host_root": self.config.scan.host_root,
                    "kubernetes": self.watcher is not None,
                }
            },
        )
        threads = [threading.Thread(target=self.scan_loop.run, name="scan", daemon=True)]
        if self.watcher is not None:
            threads.append(threading.Thread(target=self.watcher.run, name="kube", daemon=True))
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        for thread in threads:
            thread.start()
        # With the first scan under way: a heartbeat with no scan done and none running is stale.
        if on_started is not None:
            on_started()
        check_every = min(CHECK_SECONDS, self.watchdog.limit / 4)
        while not self.stop_event.wait(check_every):
            self.watchdog.check()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        LOG.info("stopping on %s", signal.Signals(signum).name)
        self.stop_event.set()
