"""The agent's lifecycle: wire the scan loop, the serving state, the HTTP server and the
Kubernetes watcher, run them, and stop everything within a second of SIGTERM/SIGINT.

Three threads: the scan loop (one full scan per interval; later scans reuse what cannot have
changed), the Kubernetes watcher (only when a cluster is configured), and the HTTP server. The
main thread waits for a signal.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from types import FrameType

from ..discovery.procfs import boot_time
from ..scanner import ScanConfig, SnapshotBuilder
from .http_api import AgentApi
from .kube_intent import PodIntentWatcher, load_core_api
from .memory import pin_mmap_threshold
from .scan_loop import ScanLoop
from .serving import ServingState
from .watchdog import ScanWatchdog, default_limit
from .wsgi_server import make_server

LOG = logging.getLogger("nsinspect.agent")
SWITCH_INTERVAL_SECONDS = 0.001
IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    scan: ScanConfig
    bind: str = "0.0.0.0"  # a node agent is scraped from the pod network
    port: int = 9977
    interval: float = 15.0
    kubeconfig: str | None = None
    kube_context: str | None = None
    kubernetes: bool | None = None  # None: when a kubeconfig is given or running in a cluster
    scan_timeout: float | None = None  # a scan running longer fails /healthz; None: the default


def kubernetes_wanted(config: AgentConfig) -> bool:
    if config.kubernetes is not None:
        return config.kubernetes
    return bool(config.kubeconfig) or IN_CLUSTER_ENV in os.environ


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.watcher: PodIntentWatcher | None = None
        if kubernetes_wanted(config):
            self.watcher = PodIntentWatcher(
                lambda: load_core_api(config.kubeconfig, config.kube_context),
                config.scan.node_name or os.uname().nodename,
                self.stop_event,
            )
        builder = SnapshotBuilder(
            config.scan, intents=self.watcher.intents if self.watcher else None
        )
        watchdog = ScanWatchdog(
            config.scan_timeout or default_limit(config.interval), lambda: builder.step
        )
        self.serving = ServingState(
            config.interval, self.watcher, boot_time(builder.scanner.proc_root), watchdog
        )
        self.scan_loop = ScanLoop(
            builder, config.interval, self.stop_event, self.serving.publish, watchdog
        )

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT."""
        pin_mmap_threshold()
        # A scrape that arrives during a scan needs the GIL back after each of its system calls,
        # and a scan running Python code gives it up only every switch interval (5 ms by
        # default). At 1 ms, /metrics p99 at 3,500 processes went from 30-80 ms to 39-50 ms
        # (3 runs each on a shared 2-CPU machine); the scan pays a few more thread switches.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        server = make_server(self.config.bind, self.config.port, AgentApi(self.serving))
        LOG.info(
            "agent listening",
            extra={
                "fields": {
                    "address": f"{self.config.bind}:{server.server_port}",
                    "interval_seconds": self.config.interval,
                    "proc_root": self.config.scan.proc_root,
                    "host_root": self.config.scan.host_root,
                    "kubernetes": self.watcher is not None,
                }
            },
        )
        threads = [
            threading.Thread(target=self.scan_loop.run, name="scan", daemon=True),
            threading.Thread(target=server.serve_forever, args=(0.1,), name="http", daemon=True),
        ]
        if self.watcher is not None:
            threads.append(threading.Thread(target=self.watcher.run, name="kube", daemon=True))
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        for thread in threads:
            thread.start()
        self.stop_event.wait()
        server.shutdown()
        server.server_close()
        # A scan still running is left to die with the process: it only reads.
        LOG.info("agent stopped")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        LOG.info("stopping on %s", signal.Signals(signum).name)
        self.stop_event.set()
