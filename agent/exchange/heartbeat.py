"""The scanner's heartbeat, and what the server concludes from it.

The scanner rewrites heartbeat.json at the start of each scan, at each step change and at its end.
The server never talks to the scanner for health: it reads the heartbeat and judges, with the pure
`scanner_view`, whether a scan is stuck, whether the scanner stopped (stale), and whether the
results are fresh enough to be ready. Times are CLOCK_BOOTTIME seconds: the same clock in both
processes, counting suspend, and immune to the wall clock being set.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from .layout import HEARTBEAT, read_bounded, write_atomically

VERSION = 1
STALE_AFTER_INTERVALS = 3  # results older than this many intervals are not ready, and marked
MAX_HEARTBEAT_BYTES = 64 * 1024


class KubernetesState(StrEnum):
    DISABLED = "disabled"
    UP = "up"
    DOWN = "down"


class HeartbeatUnreadableError(Exception):
    """heartbeat.json is missing or malformed; the message says which and why."""


def boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pid: int
    node: str
    interval: float  # seconds between scan starts
    stuck_after: float  # a scan running longer is stuck (the watchdog's limit)
    scan_started: float | None  # boottime of the running scan's start; None between scans
    step: str  # the running scan's step ("idle" between scans)
    last_scan_ended: float | None  # boottime of the last completed scan's end
    generation: int | None  # the last published generation
    kubernetes: KubernetesState
    kubernetes_error: str | None = None  # the watcher's last error, when it has one
    version: int = VERSION

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode("ascii")


def write_heartbeat(results_dir: Path, heartbeat: Heartbeat) -> None:
    write_atomically(results_dir / HEARTBEAT, heartbeat.to_json())


def read_heartbeat(results_dir: Path) -> Heartbeat:
    path = results_dir / HEARTBEAT
    try:
        raw = read_bounded(path, MAX_HEARTBEAT_BYTES)
    except FileNotFoundError as exc:
        raise HeartbeatUnreadableError(f"{path} does not exist (has the scanner started?)") from exc
    except OSError as exc:
        raise HeartbeatUnreadableError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise HeartbeatUnreadableError(str(exc)) from exc
    try:
        return heartbeat_from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise HeartbeatUnreadableError(f"{path} is malformed: {exc}") from exc


def heartbeat_from_json(doc: Any) -> Heartbeat:
    """Raises ValueError, KeyError or TypeError for anything but a version-1 heartbeat."""
    if not isinstance(doc, dict):
        raise TypeError("not a JSON object")
    if doc.get("version") != VERSION:
        raise ValueError(f"version {doc.get('version')!r}, expected {VERSION}")
    error = doc.get("kubernetes_error")
    return Heartbeat(
        pid=_typed(doc, "pid", int),
        node=_typed(doc, "node", str),
        interval=_seconds(doc, "interval"),
        stuck_after=_seconds(doc, "stuck_after"),
        scan_started=_optional_seconds(doc, "scan_started"),
        step=_typed(doc, "step", str),
        last_scan_ended=_optional_seconds(doc, "last_scan_ended"),
        generation=None if doc["generation"] is None else _typed(doc, "generation", int),
        kubernetes=KubernetesState(doc["kubernetes"]),
        kubernetes_error=error if isinstance(error, str) else None,
    )


def _typed(doc: dict[str, Any], key: str, kind: type) -> Any:
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{key} is not a {kind.__name__}")
    return value


def _seconds(doc: dict[str, Any], key: str) -> float:
    value = doc[key]
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        raise TypeError(f"{key} is not a number")
    return float(value)


def _optional_seconds(doc: dict[str, Any], key: str) -> float | None:
    return None if doc[key] is None else _seconds(doc, key)


@dataclass(frozen=True, slots=True)
class ScannerView:
    """The scanner as the server sees it at one moment."""

    stuck: bool  # a scan has run longer than stuck_after
    stale: bool  # no scan completed within interval + stuck_after: the scanner stopped or died
    ready: bool  # a generation exists and its scan ended within STALE_AFTER_INTERVALS intervals
    scan_age: float | None  # seconds since the last completed scan
    running_seconds: float | None  # of the scan running now
    step: str | None  # of the scan running now
    stale_after: float  # seconds: older results are not ready, and marked stale
    health_reason: str | None  # why /healthz fails
    ready_reason: str | None  # why /readyz fails
    kubernetes: KubernetesState
    kubernetes_error: str | None

    @property
    def healthy(self) -> bool:
        return not (self.stuck or self.stale)

    def health_document(self) -> dict[str, Any]:
        """The /healthz body (200 when healthy, 503 else)."""
        if self.healthy:
            return {"status": "ok"}
        return {"status": "stuck" if self.stuck else "stale", "reason": self.health_reason}

    def readiness_document(self) -> dict[str, Any]:
        """The /readyz body (200 when ready, 503 else), as the one-process agent answered."""
        kube: dict[str, Any] = {"state": self.kubernetes.value}
        if self.kubernetes is not KubernetesState.DISABLED:
            kube["error"] = self.kubernetes_error
        doc: dict[str, Any] = {
            "ready": self.ready,
            "last_scan_age_seconds": None if self.scan_age is None else round(self.scan_age, 3),
            "stale_after_seconds": self.stale_after,
            "kube_api": kube,
        }
        if self.ready_reason:
            doc["reason"] = self.ready_reason
        return doc


def scanner_view(
    heartbeat: Heartbeat, now: float, stale_after_intervals: float = STALE_AFTER_INTERVALS
) -> ScannerView:
    """Pure: `now` is boottime()."""
    running = None if heartbeat.scan_started is None else max(0.0, now - heartbeat.scan_started)
    age = None if heartbeat.last_scan_ended is None else max(0.0, now - heartbeat.last_scan_ended)
    stuck = running is not None and running > heartbeat.stuck_after
    # The next scan starts at most an interval after the last one ended and, unless stuck, ends
    # within stuck_after: past both, scans stopped. Against stuck_after alone, a scan timeout
    # shorter than the interval would fail /healthz between any two scans.
    # With no scan completed, only when none is running either: the scanner gave up.
    stale = running is None if age is None else age > heartbeat.interval + heartbeat.stuck_after
    stale_after = stale_after_intervals * heartbeat.interval
    ready = heartbeat.generation is not None and age is not None and age <= stale_after
    health_reason = None
    if stuck:
        health_reason = (
            f"a scan has been running for {running:.0f} s, in step {heartbeat.step!r}; "
            f"the limit is {heartbeat.stuck_after:g} s"
        )
    elif age is None and stale:
        health_reason = "the scanner has not completed a scan and is not running one"
    elif stale:
        health_reason = (
            f"the scanner has not completed a scan for {age:.0f} s (pid {heartbeat.pid}); "
            f"the limit is {heartbeat.interval + heartbeat.stuck_after:g} s "
            f"(the interval and the scan timeout)"
        )
    ready_reason = None
    if age is None or heartbeat.generation is None:
        ready_reason = "no scan has completed yet"
    elif not ready:
        ready_reason = f"the latest scan is {age:.0f} s old"
    return ScannerView(
        stuck=stuck,
        stale=stale,
        ready=ready,
        scan_age=age,
        running_seconds=running,
        step=heartbeat.step if running is not None else None,
        stale_after=stale_after,
        health_reason=health_reason,
        ready_reason=ready_reason,
        kubernetes=heartbeat.kubernetes,
        kubernetes_error=heartbeat.kubernetes_error,
    )


def stale_error(scan_age: float, taken_at: float) -> dict[str, str]:
    """The entry a server adds to a list document's `errors` when it serves a stale generation."""
    taken = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(taken_at))
    return {
        "stage": "agent",
        "reason": "stale",
        "message": f"the agent's scanner has not completed a scan for {scan_age:.0f} s; "
        f"this answer is the scan of {taken}",
    }
