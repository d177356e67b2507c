"""Notice a scan that cannot finish, and say so where kubelet and Prometheus look.

A thread blocked in a system call cannot be stopped from Python, and a scan reads what any process
on the node controls; every read is built not to block, and this is the net under them. The scan
loop marks when each scan starts and ends; a scan running longer than the limit makes /healthz
fail, so the liveness probe restarts the agent, and the metrics say how long and in which step.
The check is made when asked (a probe, a scrape), so it costs nothing between them and needs no
thread of its own, which could itself be starved.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

LOG = logging.getLogger("nsinspect.agent")
# Four intervals: a slow scan on a loaded node is not stuck. Thirty seconds at least: the first
# scan of a big node reads every runtime's state and can take several seconds.
STUCK_AFTER_INTERVALS = 4
STUCK_AFTER_FLOOR_SECONDS = 30.0


def default_limit(interval: float) -> float:
    return max(STUCK_AFTER_INTERVALS * interval, STUCK_AFTER_FLOOR_SECONDS)


@dataclass(frozen=True, slots=True)
class RunningScan:
    seconds: float  # since it started
    step: str  # what it was doing when asked
    stuck: bool  # running longer than the limit


class ScanWatchdog:
    def __init__(self, limit: float, step: Callable[[], str]) -> None:
        self.limit = limit
        self._step = step
        self._lock = threading.Lock()
        self._started: float | None = None
        self._reported: float | None = None  # the stuck scan already logged

    def scan_started(self) -> None:
        with self._lock:
            self._started = time.monotonic()

    def scan_ended(self) -> None:
        with self._lock:
            if self._reported is not None:
                LOG.warning("the stuck scan ended after %.0f s", time.monotonic() - self._reported)
            self._started = self._reported = None

    def running(self) -> RunningScan | None:
        """The scan running now, if any."""
        with self._lock:
            started = self._started
            if started is None:
                return None
            seconds = time.monotonic() - started
            scan = RunningScan(seconds, self._step(), seconds > self.limit)
            if scan.stuck and self._reported != started:
                self._reported = started
                LOG.error(
                    "scan stuck",
                    extra={
                        "fields": {
                            "running_seconds": round(seconds, 1),
                            "step": scan.step,
                            "limit_seconds": self.limit,
                        }
                    },
                )
            return scan
