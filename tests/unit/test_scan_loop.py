"""The scan loop survives a failure in publishing too, and always tells the watchdog it ended:
the heartbeat says a scan runs while it runs, and names only generations that were published."""

from __future__ import annotations

import threading
from pathlib import Path

from harness.fakeproc import FakeProc
from nsinspect.agent.daemon.scan_loop import ScanLoop
from nsinspect.agent.daemon.watchdog import ScanWatchdog
from nsinspect.agent.exchange.heartbeat import KubernetesState, read_heartbeat
from nsinspect.agent.model import Snapshot
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder


def test_a_failing_publish_costs_one_scan_and_ends_the_watch(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "init", ppid=0, start_time=1)
    builder = SnapshotBuilder(
        ScanConfig(proc_root=str(proc.root), host_root=str(tmp_path), cri_sockets=())
    )
    results = tmp_path / "results"
    results.mkdir()
    watchdog = ScanWatchdog(results, "node", 1.0, 60.0, lambda: (KubernetesState.DISABLED, None))
    steps_written: list[str] = []
    builder.on_step = lambda step: (
        watchdog.step_changed(step),
        steps_written.append(read_heartbeat(results).step),
    )
    published: list[Snapshot] = []
    attempts: list[Snapshot] = []

    def publish(snapshot: Snapshot) -> int:
        running = read_heartbeat(results)
        assert running.scan_started is not None  # still running while it publishes
        attempts.append(snapshot)
        if len(attempts) == 1:
            raise RuntimeError("rendering failed")
        published.append(snapshot)
        return 7

    loop = ScanLoop(builder, 1.0, threading.Event(), publish, watchdog)
    loop.scan_once()
    after_failure = read_heartbeat(results)
    assert published == []
    assert after_failure.scan_started is None and after_failure.generation is None
    assert after_failure.last_scan_ended is None  # a failed scan completes nothing
    loop.scan_once()
    after = read_heartbeat(results)
    assert [s.processes.keys() for s in published] == [{1}]
    assert after.scan_started is None and after.step == "idle" and builder.step == "idle"
    assert after.generation == 7 and after.last_scan_ended is not None
    assert {"processes", "mounts", "fds", "runtimes", "pairing"} <= set(steps_written)
