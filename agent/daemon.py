"""`nsinspect agent`: scan on an interval, keep the latest snapshot, serve it.

Three threads: the scanner (one full scan per interval; later scans reuse what cannot have
changed), the Kubernetes watcher (only when a cluster is configured), and the HTTP server. The
main thread waits for SIGTERM/SIGINT and then stops everything within a second.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from nsinspect.agent import documents
from nsinspect.agent.http_api import AgentApi
from nsinspect.agent.kube import PodIntentWatcher, load_core_api
from nsinspect.agent.memory import pin_mmap_threshold
from nsinspect.agent.metrics import AgentMetrics, boot_time
from nsinspect.agent.model import Pod, Snapshot
from nsinspect.agent.snapshot import ScanConfig, SnapshotBuilder
from nsinspect.agent.wsgi_server import make_server

LOG = logging.getLogger("nsinspect.agent")
STALE_AFTER_INTERVALS = 3
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


def kubernetes_wanted(config: AgentConfig) -> bool:
    if config.kubernetes is not None:
        return config.kubernetes
    return bool(config.kubeconfig) or IN_CLUSTER_ENV in os.environ


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.metrics_state = AgentMetrics()
        self.watcher: PodIntentWatcher | None = None
        if kubernetes_wanted(config):
            self.watcher = PodIntentWatcher(
                lambda: load_core_api(config.kubeconfig, config.kube_context),
                config.scan.node_name or os.uname().nodename,
                self.stop_event,
            )
        self.builder = SnapshotBuilder(
            config.scan, intents=self.watcher.intents if self.watcher else None
        )
        self.boot_seconds = boot_time(self.builder.scanner.proc_root)
        self._snapshot: Snapshot | None = None
        self._last_scan_monotonic: float | None = None

    # -- scanning ---------------------------------------------------------------------------
    def scan_once(self) -> None:
        try:
            snapshot = self.builder.build()
        except Exception:  # the loop survives anything a scan meets; the log says what
            LOG.exception("scan failed")
            return
        self.metrics_state.observe_scan(snapshot, self.boot_seconds)
        self.metrics_state.kube_api_up.set(1 if self.watcher and self.watcher.up else 0)
        self._snapshot = snapshot
        self._last_scan_monotonic = time.monotonic()
        LOG.debug(
            "scan done",
            extra={
                "fields": {
                    "pods": len(snapshot.pods),
                    "processes": len(snapshot.processes),
                    "errors": len(snapshot.errors),
                    "findings": len(snapshot.findings),
                    "duration_seconds": round(snapshot.duration_seconds, 4),
                }
            },
        )

    def scan_loop(self) -> None:
        while not self.stop_event.is_set():
            started = time.monotonic()
            self.scan_once()
            self.stop_event.wait(max(0.0, self.config.interval - (time.monotonic() - started)))

    # -- what the HTTP API reads (AgentState) ---------------------------------------------
    def latest(self) -> Snapshot | None:
        return self._snapshot

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        age = (
            None
            if self._last_scan_monotonic is None
            else time.monotonic() - self._last_scan_monotonic
        )
        limit = STALE_AFTER_INTERVALS * self.config.interval
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
        self.metrics_state.kube_api_up.set(1 if self.watcher and self.watcher.up else 0)
        return self.metrics_state.render()

    def pod_report(self, pod: Pod, snapshot: Snapshot) -> dict[str, Any]:
        """The single-pod report includes what is inside its namespaces (entered on request)."""
        from nsinspect.agent.inside.collect import pod_details  # pyroute2: ~8 MiB, only if asked

        return documents.pod_document(pod, snapshot, pod_details(pod, snapshot))

    # -- lifecycle --------------------------------------------------------------------------
    def run(self) -> None:
        """Serve until SIGTERM or SIGINT."""
        pin_mmap_threshold()
        # A scrape that arrives during a scan needs the GIL back after each of its system calls,
        # and a scan running Python code gives it up only every switch interval (5 ms by
        # default). At 1 ms, /metrics p99 at 3,500 processes went from 30-80 ms to 39-50 ms
        # (3 runs each on a shared 2-CPU machine); the scan pays a few more thread switches.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        server = make_server(self.config.bind, self.config.port, AgentApi(self))
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
            threading.Thread(target=self.scan_loop, name="scan", daemon=True),
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
