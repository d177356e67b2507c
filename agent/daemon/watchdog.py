"""Notice a scan that cannot finish, and say so where the server (and through it kubelet and
Prometheus) looks: the heartbeat.

A thread blocked in a system call cannot be stopped from Python, and a scan reads what any process
on the node controls; every read is built not to block, and this is the net under them. The
watchdog writes the heartbeat (agent/exchange/heartbeat.py) when a scan starts, at each of its
steps and when it ends; the unprivileged server judges from it, at each probe or scrape, whether a
scan has run past the limit (stuck: /healthz fails, kubelet restarts the pod) or whether scans
stopped completing (stale). The scanner's main thread also checks now and then, to log it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from ..exchange.heartbeat import Heartbeat, KubernetesState, boottime, write_heartbeat

LOG = logging.getLogger("nsinspect.agent")
# Four intervals: a slow scan on a loaded node is not stuck. Thirty seconds at least: the first
# scan of a big node reads every runtime's state and can take several seconds.
STUCK_AFTER_INTERVALS = 4
STUCK_AFTER_FLOOR_SECONDS = 30.0
IDLE = "idle"


def default_limit(interval: float) -> float:
    return max(STUCK_AFTER_INTERVALS * interval, STUCK_AFTER_FLOOR_SECONDS)


class ScanWatchdog:
    """Tracks the running scan and writes the heartbeat at each change. Thread-safe: the scan
    thread reports, the main thread checks."""

    def __init__(
        self,
        results_dir: Path,
        node: str,
        interval: float,
        limit: float,
        kubernetes: Callable[[], tuple[KubernetesState, str | None]],
    ) -> None:
        self.results_dir = results_dir
        self.node = node
        self.interval = interval
        self.limit = limit
        self._kubernetes = kubernetes
        self._lock = threading.Lock()
        self._started: float | None = None
        self._step = IDLE
        self._ended: float | None = None
        self._generation: int | None = None
        self._reported: float | None = None  # the start of the stuck scan already logged
        self._write_failed = False

    def scan_started(self) -> None:
        with self._lock:
            self._started = boottime()
            self._step = IDLE
            self._write()

    def step_changed(self, step: str) -> None:
        with self._lock:
            if self._started is not None and step != self._step:
                self._step = step
                self._write()

    def scan_ended(self, generation: int | None) -> None:
        """`generation`: the one this scan published; None when the scan failed (then the
        heartbeat keeps the last good scan's end, and the results go stale if it goes on)."""
        with self._lock:
            now = boottime()
            if self._reported is not None:
                LOG.warning("the stuck scan ended after %.0f s", now - self._reported)
            self._started = self._reported = None
            self._step = IDLE
            if generation is not None:
                self._ended, self._generation = now, generation
            self._write()

    def heartbeat(self) -> Heartbeat:
        """As of now; also written at every change."""
        state, error = self._kubernetes()
        return Heartbeat(
            pid=os.getpid(),
            node=self.node,
            interval=self.interval,
            stuck_after=self.limit,
            scan_started=self._started,
            step=self._step,
            last_scan_ended=self._ended,
            generation=self._generation,
            kubernetes=state,
            kubernetes_error=error,
        )

    def check(self) -> None:
        """Log a scan running past the limit, once per scan."""
        with self._lock:
            started = self._started
            if started is None or self._reported == started:
                return
            seconds = boottime() - started
            if seconds <= self.limit:
                return
            self._reported = started
            step = self._step
        LOG.error(
            "scan stuck",
            extra={
                "fields": {
                    "running_seconds": round(seconds, 1),
                    "step": step,
                    "limit_seconds": self.limit,
                }
            },
        )

    def write(self) -> None:
        with self._lock:
            self._write()

    def _write(self) -> None:
        try:
            write_heartbeat(self.results_dir, self.heartbeat())
        except OSError as exc:  # the scan goes on; the server will see the heartbeat age
            if not self._write_failed:
                LOG.error("cannot write the heartbeat: %s", exc)
            self._write_failed = True
        else:
            self._write_failed = False
