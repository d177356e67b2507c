"""Issue K's process facts, read from the kernel: who listens, as whom, with what privileges, and
what the server says when the scanner stops.

`nsinspect agent` (role both) runs the scanner as root and the server as its child. The process
serving a port is the one holding the listening socket's inode (/proc/net/tcp{,6} against
/proc/<pid>/fd), not a pid the agent reports. The DaemonSet's shape, two processes sharing only
the results directory, is run too (`--role scanner` as root beside `nsinspect-server`, which drops
to uid 65534), for what a scanner's death means to a server that outlives it.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.agent_process import AgentProcess, free_port, start_agent
from harness.process_facts import listener_pids, net_sockets, socket_inodes, status_fields
from harness.unprivileged import setpriv_command

pytestmark = pytest.mark.root

INTERVAL = 0.5
SCAN_TIMEOUT = 2.0  # the heartbeat's stuck_after; a scan here takes well under a second
STALE_AFTER = 3 * INTERVAL
SLACK = 3.0
NOBODY = 65534


def fetch(port: int, path: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        client.request("GET", path)
        reply = client.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        client.close()


def wait_for(what: str, check: Any, timeout: float, logs: Path | None = None) -> Any:
    """Polls `check()` until it returns something true; fails with `what` (and the logs in
    `logs`, a directory) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except OSError:  # not listening (yet, or any more)
            found = None
        if found:
            return found
        if time.monotonic() >= deadline:
            said = (
                [p.read_text(errors="replace") for p in sorted(logs.glob("*.log"))] if logs else []
            )
            raise AssertionError(f"{what}: not within {timeout} s\n" + "\n".join(said))
        time.sleep(0.05)


def failing_healthz(port: int) -> bytes | None:
    """The body of a 503 from /healthz, None while it answers anything else."""
    code, _, body = fetch(port, "/healthz")
    return body if code == 503 else None


def gone(pid: int) -> bool:
    try:
        return status_fields(pid)["State"].startswith("Z")
    except (FileNotFoundError, ProcessLookupError):
        return True


def only_listener(port: int) -> int:
    pids = listener_pids(port)
    assert len(pids) == 1, f"processes listening on {port}: {pids}"
    return pids.pop()


def assert_unprivileged(pid: int) -> None:
    status = status_fields(pid)
    assert status["Uid"].split() == [str(NOBODY)] * 4, status["Uid"]
    assert status["Gid"].split() == [str(NOBODY)] * 4, status["Gid"]
    assert status["Groups"].split() == [], status["Groups"]
    for capabilities in ("CapEff", "CapPrm", "CapAmb", "CapInh"):
        assert int(status[capabilities], 16) == 0, f"{capabilities} {status[capabilities]}"
    assert status["NoNewPrivs"] == "1"


def assert_listens_on_nothing(pid: int) -> None:
    """No LISTEN TCP socket and no UDP socket among the process's fds (connections out are fine)."""
    served = {
        s.inode: s for s in net_sockets() if s.listening or s.protocol.startswith("udp")
    }  # fmt: skip
    held = [served[inode] for inode in socket_inodes(pid) & served.keys()]
    assert not held, f"pid {pid} holds {held}"


def stale_marks(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in document.get("errors") or [] if e.get("stage") == "agent"]


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    started = start_agent(
        tmp_path, "--no-kubernetes", "--scan-timeout", f"{SCAN_TIMEOUT:g}", interval=INTERVAL
    )
    try:
        started.wait_ready()
        yield started
    finally:
        os.kill(started.process.pid, signal.SIGCONT)
        started.stop()


def test_the_listener_is_nobody_without_privileges_and_the_scanner_listens_on_nothing(
    agent: AgentProcess,
) -> None:
    server = only_listener(agent.port)
    assert server != agent.process.pid
    assert only_listener(agent.api_port) == server
    assert int(status_fields(server)["PPid"]) == agent.process.pid
    assert_unprivileged(server)
    assert_listens_on_nothing(agent.process.pid)
    api = [s for s in net_sockets() if s.listening and s.local_port == agent.api_port]
    assert {s.local_address for s in api} == {"127.0.0.1"}, api
    assert fetch(agent.port, "/api/v1/pods")[0] == 404  # the API is not on the pod IP
    assert fetch(agent.api_port, "/metrics")[0] == 404
    assert fetch(agent.api_port, "/api/v1/pods")[0] == 200


def test_a_stopped_scanner_gets_stale_marked_answers_and_failing_healthz(
    agent: AgentProcess,
) -> None:
    os.kill(agent.process.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    health = wait_for(
        "/healthz 503",
        lambda: failing_healthz(agent.port),
        SCAN_TIMEOUT + SLACK,
        agent.log_path.parent,
    )
    assert json.loads(health)["status"] in ("stuck", "stale"), health
    assert time.monotonic() - stopped <= SCAN_TIMEOUT + SLACK
    assert fetch(agent.port, "/livez")[0] == 200
    assert fetch(agent.port, "/readyz")[0] == 503
    time.sleep(max(0.0, STALE_AFTER - (time.monotonic() - stopped)))
    for path in ("/api/v1/pods", "/api/v1/findings", "/api/v1/namespaces"):
        code, headers, body = fetch(agent.api_port, path)
        assert code == 200, (path, body[:300])
        marks = stale_marks(json.loads(body))
        assert [m["reason"] for m in marks] == ["stale"], (path, marks)
        assert float(headers["X-Nsinspect-Stale"]) >= STALE_AFTER - 0.5, headers
    os.kill(agent.process.pid, signal.SIGCONT)
    wait_for("/healthz 200 again", lambda: fetch(agent.port, "/healthz")[0] == 200, SLACK + 2)
    wait_for(
        "an unmarked list again",
        lambda: not stale_marks(json.loads(fetch(agent.api_port, "/api/v1/pods")[2])),
        SLACK + 2,
    )


@pytest.fixture
def results_dir() -> Iterator[Path]:
    """Under /run, as the DaemonSet's memory emptyDir: pytest's tmp_path is 0700 root's."""
    path = Path(tempfile.mkdtemp(prefix="nsi-split-test-", dir="/run"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# A scanner that is uid 0 without CAP_KILL may not signal its server (uid 65534), and the
# kernel's parent-death signal is sent with the dying scanner's permissions: only the pipe the
# server watches takes it down then.
WITHOUT_KILL = tuple(setpriv_command([], 0, keep=("setuid", "setgid", "chown", "setpcap")))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
@pytest.mark.parametrize("prefix", [(), WITHOUT_KILL], ids=["root", "uid0-without-kill"])
def test_the_server_ends_with_the_scanner(
    tmp_path: Path, results_dir: Path, stop_signal: signal.Signals, prefix: tuple[str, ...]
) -> None:
    """SIGTERM stops both; SIGKILL of the scanner leaves no orphan server either. (A results
    directory of the test's: a killed scanner cannot remove the one it would make.)"""
    started = start_agent(
        tmp_path,
        "--no-kubernetes",
        "--results-dir",
        str(results_dir),
        interval=INTERVAL,
        prefix=prefix,
    )
    try:
        started.wait_ready()
        server = only_listener(started.port)
        began = time.monotonic()
        os.kill(started.process.pid, stop_signal)
        started.process.wait(timeout=10)
        wait_for(f"the server gone after {stop_signal.name}", lambda: gone(server), 5.0)
        assert time.monotonic() - began < 5.0
        assert not listener_pids(started.port)
    finally:
        started.stop()


def started(command: list[str], log: Path, processes: list[subprocess.Popen[bytes]]) -> int:
    """Starts `command` with its output in `log`, adds it to `processes`; returns its pid."""
    with open(log, "wb") as output:
        processes.append(subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT))
    return processes[-1].pid


def test_a_killed_scanner_leaves_the_server_answering_marked_stale(
    tmp_path: Path, results_dir: Path
) -> None:
    """The DaemonSet's shape: the server is no child of the scanner. It is started as root and
    told --drop-to 65534:65534, as `nsinspect agent` starts it: this interpreter lives where
    uid 65534 may not read (under /root), which an image does not do."""
    port, api_port = free_port(), free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        scanner = started(
            ["nsinspect", "agent", "--role", "scanner", "--results-dir", str(results_dir),
             "--no-kubernetes", "--interval", f"{INTERVAL:g}",
             "--scan-timeout", f"{SCAN_TIMEOUT:g}"],
            tmp_path / "scanner.log", processes,
        )  # fmt: skip
        # The scanner gives the directory to group 65534; a server started before that refuses
        # it (and in the DaemonSet is restarted).
        heartbeat = results_dir / "heartbeat.json"
        wait_for("a heartbeat", heartbeat.exists, 60, tmp_path)
        server = started(
            [sys.executable, "-m", "nsinspect.agent.server", "--results-dir", str(results_dir),
             "--bind", "127.0.0.1", "--port", str(port), "--api-port", str(api_port),
             "--drop-to", f"{NOBODY}:{NOBODY}"],
            tmp_path / "server.log", processes,
        )  # fmt: skip
        wait_for("ready", lambda: fetch(port, "/readyz")[0] == 200, 60, tmp_path)
        assert only_listener(port) == server
        assert_unprivileged(server)
        assert_listens_on_nothing(scanner)
        processes[0].kill()
        processes[0].wait(timeout=10)
        killed = time.monotonic()
        health = wait_for(
            "/healthz 503", lambda: failing_healthz(port), SCAN_TIMEOUT + SLACK, tmp_path
        )
        assert json.loads(health)["status"] == "stale", health
        time.sleep(max(0.0, STALE_AFTER - (time.monotonic() - killed)))
        code, headers, body = fetch(api_port, "/api/v1/pods")
        assert code == 200
        assert [m["reason"] for m in stale_marks(json.loads(body))] == ["stale"]
        assert "X-Nsinspect-Stale" in headers
        assert fetch(port, "/livez")[0] == 200
        assert processes[1].poll() is None, "the server ended with the scanner"
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
