"""The scan loop survives a failure in publishing too, and always tells the watchdog it ended."""

from __future__ import annotations

import threading
from pathlib import Path

from harness.fakeproc import FakeProc
from nsinspect.agent.daemon.scan_loop import ScanLoop
from nsinspect.agent.daemon.watchdog import ScanWatchdog
from nsinspect.agent.model import Snapshot
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder


def test_a_failing_publish_costs_one_scan_and_ends_the_watch(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "init", ppid=0, start_time=1)
    builder = SnapshotBuilder(
        ScanConfig(proc_root=str(proc.root), host_root=str(tmp_path), cri_sockets=())
    )
    watchdog = ScanWatchdog(limit=60.0, step=lambda: builder.step)
    published: list[Snapshot] = []
    steps_seen: list[str] = []

    def publish(snapshot: Snapshot) -> None:
        running = watchdog.running()
        assert running is not None and not running.stuck
        steps_seen.append(running.step)
        if not published and not steps_seen[1:]:
            raise RuntimeError("rendering failed")
        published.append(snapshot)

    loop = ScanLoop(builder, 1.0, threading.Event(), publish, watchdog)
    loop.scan_once()
    assert published == [] and watchdog.running() is None
    loop.scan_once()
    assert [s.processes.keys() for s in published] == [{1}]
    assert watchdog.running() is None and builder.step == "idle"
    assert steps_seen == ["idle", "idle"]  # the build had ended when publishing began
