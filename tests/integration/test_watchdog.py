"""A scan that cannot finish: /healthz fails (kubelet restarts the agent), the metrics say where.

No read of the real /proc can be made to block any more (that is the point of issue G), so the
stuck scan is made the one way left: a proc root whose `<pid>/stat` is a FIFO with no writer, which
a plain open waits on for ever. Giving the FIFO a writer lets the scan end, and the agent recovers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from harness.agent_process import AgentProcess, start_agent
from harness.fakeproc import FakeProc, stat_line


def wait_status(agent: AgentProcess, path: str, status: int, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = agent.get(path, timeout=2)
        except OSError:  # not listening yet
            assert time.monotonic() < deadline and agent.process.poll() is None, agent.log()
            time.sleep(0.1)
            continue
        if reply.status == status:
            document: dict[str, object] = reply.json()
            return document
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} stayed {reply.status}: {reply.body!r}")
        time.sleep(0.1)


def test_a_stuck_scan_fails_liveness_and_says_where_then_recovers(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "init", ppid=0, start_time=1)
    stuck_dir = proc.add(77, "stuck", start_time=77)
    fifo = stuck_dir / "stat"
    fifo.unlink()
    os.mkfifo(fifo)
    agent = start_agent(
        tmp_path,
        "--no-kubernetes",
        "--scan-timeout",
        "1",
        interval=0.2,
        global_args=("--proc-root", str(proc.root), "--host-root", str(tmp_path)),
    )
    writer = None
    try:
        stuck = wait_status(agent, "/healthz", 503, timeout=30)
        assert stuck["status"] == "stuck"
        assert "'processes'" in str(stuck["reason"]), stuck
        metrics = agent.metrics()
        assert "nsinspect_scan_stuck 1.0" in metrics
        assert 'nsinspect_scan_running_seconds{step="processes"}' in metrics
        assert '"scan stuck"' in agent.log()
        assert agent.get("/readyz").status == 503  # no scan has completed: nothing to serve

        # Let the blocked open through (the scan reads a valid line), and leave a plain file
        # for the scans after it.
        fifo.rename(stuck_dir / "stat.fifo")
        (stuck_dir / "stat").write_text(stat_line(77, "stuck", "S", 1, start_time=77))
        writer = os.open(stuck_dir / "stat.fifo", os.O_WRONLY)
        os.write(writer, stat_line(77, "stuck", "S", 1, start_time=77).encode())
        os.close(writer)
        writer = None

        assert wait_status(agent, "/healthz", 200, timeout=10) == {"status": "ok"}
        wait_status(agent, "/readyz", 200, timeout=10)
        assert "nsinspect_scan_stuck 0.0" in agent.metrics()
        assert "the stuck scan ended" in agent.log()
    finally:
        if writer is not None:
            os.close(writer)
        agent.stop()
