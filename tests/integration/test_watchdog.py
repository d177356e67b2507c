"""A scan that cannot finish in time: /healthz fails (kubelet restarts the agent), the metrics say
where, and the agent recovers when the cause goes. The scanner writes the running scan's step to
its heartbeat; the server judges and renders from it.

Every read of a node file is built never to block (issue G), so the slow scan is made the way a
node makes one: a wedged runtime. The test's CRI socket accepts connections and never answers, so
each scan waits out the CRI client's deadline (2 s) in its `runtimes` step, longer than the
agent's --scan-timeout of 0.5 s. Ending that listener lets the scans go fast again.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from harness.agent_process import AgentProcess, start_agent
from harness.fakeproc import FakeProc


@contextmanager
def wedged_runtime(path: Path) -> Iterator[None]:
    """A unix socket that accepts every connection and never says a word."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def stuck_value(metrics: str) -> float | None:
    """nsinspect_scan_stuck's value in an exposition (the server renders it from the heartbeat)."""
    for family in text_string_to_metric_families(metrics):
        if family.name == "nsinspect_scan_stuck":
            return float(family.samples[0].value)
    return None


def wait_for_log(agent: AgentProcess, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in agent.log():
        assert time.monotonic() < deadline, f"{text} never logged: {agent.log()}"
        time.sleep(0.05)


def healthz(agent: AgentProcess) -> tuple[int, dict[str, object]]:
    reply = agent.get("/healthz", timeout=2)
    return reply.status, reply.json()


def wait_for_status(agent: AgentProcess, status: int, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            code, document = healthz(agent)
            if code == status:
                return document
        except OSError:  # not listening yet
            assert agent.process.poll() is None, agent.log()
        assert time.monotonic() < deadline, f"/healthz never answered {status}: {agent.log()}"
        time.sleep(0.05)


def test_a_scan_past_its_timeout_fails_liveness_says_where_and_recovers(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "init", ppid=0, start_time=1)
    host = tmp_path / "host"
    host.mkdir()
    with wedged_runtime(host / "cri.sock"):
        agent = start_agent(
            tmp_path,
            "--no-kubernetes",
            "--scan-timeout",
            "0.5",
            interval=0.2,
            global_args=(
                "--proc-root", str(proc.root), "--host-root", str(host), "--cri-socket", "/cri.sock"
            ),
        )  # fmt: skip
        try:
            stuck = wait_for_status(agent, 503, timeout=30)
            assert stuck["status"] == "stuck"
            assert "in step 'runtimes'" in str(stuck["reason"]), stuck
            assert "the limit is 0.5 s" in str(stuck["reason"]), stuck
            # Each scan is stuck for a while, then ends: scrape until one lands in that while.
            deadline = time.monotonic() + 10
            while True:
                metrics = agent.metrics()
                if stuck_value(metrics) == 1:
                    break
                assert time.monotonic() < deadline, metrics
                time.sleep(0.05)
            assert 'nsinspect_scan_running_seconds{step="runtimes"}' in metrics
            # The scanner logs it when its main thread next looks (every quarter limit).
            wait_for_log(agent, '"scan stuck"', timeout=5)
        except BaseException:
            agent.stop()
            raise
    try:
        # With the runtime gone (connections refused at once), scans are fast again.
        assert wait_for_status(agent, 200, timeout=10) == {"status": "ok"}
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # and they stay so
            assert healthz(agent)[0] == 200
            time.sleep(0.05)
        assert stuck_value(agent.metrics()) == 0
        assert "the stuck scan ended" in agent.log()
        assert agent.get("/readyz").status == 200
    finally:
        agent.stop()
