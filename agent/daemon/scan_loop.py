"""Scan on an interval and hand each snapshot on; a scan that fails costs that scan only, and a
scan that never ends is seen by the watchdog's heartbeat."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..model import Snapshot
from ..scanner import SnapshotBuilder
from .watchdog import ScanWatchdog

LOG = logging.getLogger("nsinspect.agent")


class ScanLoop:
    def __init__(
        self,
        builder: SnapshotBuilder,
        interval: float,
        stop: threading.Event,
        publish: Callable[[Snapshot], int],
        watchdog: ScanWatchdog,
    ) -> None:
        self.builder = builder
        self.interval = interval
        self.stop = stop
        self.publish = publish
        self.watchdog = watchdog

    def scan_once(self) -> None:
        """One scan, published; `publish` returns the results' generation, which the watchdog's
        heartbeat names (None when the scan or its publishing failed)."""
        self.watchdog.scan_started()
        generation = None
        try:
            snapshot = self.builder.build()
            generation = self.publish(snapshot)
        except Exception:  # the loop survives anything a scan or its rendering meets
            LOG.exception("scan failed")
            return
        finally:
            self.watchdog.scan_ended(generation)
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

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            self.scan_once()
            self.stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
