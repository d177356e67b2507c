"""The heartbeat as the server reads it: the states it concludes (ok, stuck, stale, ready), the
bodies of /healthz and /readyz, the stale marking, and clear errors for a missing or malformed
heartbeat."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from nsinspect.agent.exchange.heartbeat import (
    Heartbeat,
    HeartbeatUnreadableError,
    KubernetesState,
    boottime,
    read_heartbeat,
    scanner_view,
    stale_error,
    write_heartbeat,
)

BEAT = Heartbeat(
    pid=42,
    node="node-1",
    interval=10.0,
    stuck_after=40.0,
    scan_started=None,
    step="idle",
    last_scan_ended=1000.0,
    generation=5,
    kubernetes=KubernetesState.UP,
    kubernetes_error="",
)


def test_between_fresh_scans_it_is_healthy_and_ready() -> None:
    view = scanner_view(BEAT, now=1010.0)
    assert view.healthy and view.ready and not view.stuck and not view.stale
    assert view.health_document() == {"status": "ok"}
    assert view.readiness_document() == {
        "ready": True,
        "last_scan_age_seconds": 10.0,
        "stale_after_seconds": 30.0,
        "kube_api": {"state": "up", "error": ""},
    }


def test_a_scan_past_the_limit_is_stuck_and_says_where() -> None:
    running = dataclasses.replace(BEAT, scan_started=1001.0, step="runtimes")
    assert scanner_view(running, now=1041.0).healthy  # 40 s: at the limit, not past it
    view = scanner_view(running, now=1042.0)
    assert view.stuck and not view.healthy
    assert (view.running_seconds, view.step) == (41.0, "runtimes")
    assert view.health_document() == {
        "status": "stuck",
        "reason": "a scan has been running for 41 s, in step 'runtimes'; the limit is 40 s",
    }


def test_no_scan_completed_within_an_interval_and_the_limit_is_stale() -> None:
    assert scanner_view(BEAT, now=1050.0).healthy  # the next scan may have begun at 1010
    view = scanner_view(BEAT, now=1051.0)
    assert view.stale and not view.stuck and not view.ready
    assert view.health_document() == {
        "status": "stale",
        "reason": "the scanner has not completed a scan for 51 s (pid 42); the limit is 50 s "
        "(the interval and the scan timeout)",
    }
    assert view.readiness_document()["reason"] == "the latest scan is 51 s old"


def test_a_scan_timeout_shorter_than_the_interval_is_not_stale_between_scans() -> None:
    short = dataclasses.replace(BEAT, interval=60.0, stuck_after=5.0)
    assert scanner_view(short, now=1059.0).healthy
    assert scanner_view(short, now=1066.0).stale


def test_the_first_scan_is_judged_by_the_limit_only() -> None:
    first = dataclasses.replace(BEAT, last_scan_ended=None, generation=None, scan_started=990.0)
    view = scanner_view(first, now=1000.0)
    assert view.healthy and not view.ready and view.scan_age is None
    assert view.readiness_document()["reason"] == "no scan has completed yet"
    assert view.readiness_document()["last_scan_age_seconds"] is None
    assert scanner_view(first, now=1031.0).stuck


def test_a_scanner_with_no_scan_done_and_none_running_is_stale() -> None:
    gave_up = dataclasses.replace(BEAT, last_scan_ended=None, generation=None)
    view = scanner_view(gave_up, now=1000.0)
    assert view.stale and not view.ready
    assert view.health_reason == "the scanner has not completed a scan and is not running one"


def test_readiness_ends_after_three_intervals() -> None:
    assert scanner_view(BEAT, now=1030.0).ready
    late = scanner_view(BEAT, now=1030.5)
    assert not late.ready and late.healthy  # not ready long before kubelet would restart it


def test_a_disabled_watch_has_no_error_field() -> None:
    off = dataclasses.replace(BEAT, kubernetes=KubernetesState.DISABLED, kubernetes_error=None)
    assert scanner_view(off, now=1001.0).readiness_document()["kube_api"] == {"state": "disabled"}


def test_the_stale_entry_names_the_age_and_the_scan_time() -> None:
    taken = time.mktime((2026, 12, 7, 10, 0, 0, 0, 0, 0)) - time.timezone
    assert stale_error(61.4, taken) == {
        "stage": "agent",
        "reason": "stale",
        "message": "the agent's scanner has not completed a scan for 61 s; "
        "this answer is the scan of 2026-12-07 10:00:00 UTC",
    }


def test_written_and_read_back(tmp_path: Path) -> None:
    write_heartbeat(tmp_path, BEAT)
    assert read_heartbeat(tmp_path) == BEAT
    assert json.loads((tmp_path / "heartbeat.json").read_bytes())["version"] == 1


def test_boottime_runs_with_the_monotonic_clock() -> None:
    before, mono = boottime(), time.monotonic()
    assert boottime() >= before >= mono - 1e-3  # boottime also counts suspend


def test_a_missing_heartbeat_says_so(tmp_path: Path) -> None:
    with pytest.raises(HeartbeatUnreadableError, match="does not exist"):
        read_heartbeat(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "version 2"),
        ({"pid": True}, "pid is not a int"),
        ({"interval": "10"}, "interval is not a number"),
        ({"kubernetes": "maybe"}, "'maybe' is not a valid KubernetesState"),
        ({"generation": 1.5}, "generation is not a int"),
    ],
)
def test_a_malformed_heartbeat_says_what(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    document = json.loads(BEAT.to_json()) | change
    (tmp_path / "heartbeat.json").write_text(json.dumps(document))
    with pytest.raises(HeartbeatUnreadableError, match="malformed") as raised:
        read_heartbeat(tmp_path)
    assert message in str(raised.value)


@pytest.mark.parametrize("content", [b"", b"{", b"[1]", b" " * (64 * 1024 + 1)])
def test_a_heartbeat_that_is_not_one_is_an_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "heartbeat.json").write_bytes(content)
    with pytest.raises(HeartbeatUnreadableError):
        read_heartbeat(tmp_path)
