"""The real server (`nsinspect-server`, dropped to uid 65534) over a results directory laid out as
the scanner writes it: what each listener serves, the limits a hostile network meets (431, idle
and request timeouts, the per-client cap), the probes and the stale mark from the heartbeat,
pod details from the scanner's socket, and the process it runs as."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.server_results import (
    ResultsTree,
    ServerProcess,
    results_parent,
    share,
    start_server,
    written_tree,
)
from nsinspect.agent.exchange import layout

pytestmark = [pytest.mark.root]

PODS = {"alpha": ["a1", "a2"], "beta": ["b1"], "": ["loose"], "gamma\udcff\n": ["odd"]}


@pytest.fixture(scope="module")
def tree() -> Iterator[ResultsTree]:
    with written_tree(PODS) as results:
        yield results


@pytest.fixture(scope="module")
def server(tree: ResultsTree, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = start_server(tree.dir, tmp_path_factory.mktemp("log"), "--idle-timeout", "2",
                           "--request-timeout", "2", "--detail-timeout", "1")  # fmt: skip
    running.wait_serving()
    yield running
    running.stop()


def generation_file(tree: ResultsTree, *parts: str) -> bytes:
    return (tree.dir / layout.CURRENT).joinpath(*parts).read_bytes()


def test_each_listener_serves_only_its_paths(server: ServerProcess, tree: ResultsTree) -> None:
    tree.heartbeat()
    for probe in ("/healthz", "/readyz", "/livez"):
        assert server.get(probe).status == 200, probe
        assert server.get(probe, api=True).status == 200, probe
    metrics = server.get("/metrics")
    assert metrics.status == 200
    assert metrics.body.startswith(generation_file(tree, layout.METRICS))
    assert b"\nnsinspect_scan_stuck 0\n" in metrics.body
    assert server.get("/metrics", api=True).status == 404
    for path in ("/api/v1/pods", "/api/v1/namespaces", "/api/v1/findings"):
        assert server.get(path).status == 404, path
    assert server.get("/api/v1/pods", api=True).body == generation_file(tree, layout.PODS)
    assert server.get("/api/v1/findings", api=True).body == generation_file(tree, layout.FINDINGS)
    namespaces = server.get("/api/v1/namespaces", api=True)
    assert namespaces.body == generation_file(tree, layout.NAMESPACES)


def test_a_namespace_is_its_own_document(server: ServerProcess, tree: ResultsTree) -> None:
    alpha = server.get("/api/v1/pods?namespace=alpha", api=True).json()
    assert [i["pod"]["name"] for i in alpha["items"]] == ["a1", "a2"]
    odd = server.get("/api/v1/pods?namespace=gamma%FF%0A", api=True).json()
    assert [i["pod"]["name"] for i in odd["items"]] == ["odd"]
    absent = server.get("/api/v1/findings?namespace=nowhere", api=True)
    assert absent.status == 200 and absent.json()["items"] == []
    assert absent.body == generation_file(tree, layout.FINDINGS_DIR, layout.EMPTY)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/nope", 404),
        ("/api/v2/pods", 404),
        ("/api/v1/pods/-/x/extra", 404),
        ("/api/v1/pods/%2e%2e/%2e%2e/etc", 400),
        ("/api/v1/pods/a%2Fb/c", 400),
        ("/api/v1/pods?verbose=1", 400),
        ("/api/v1/pods?namespace=a&namespace=b", 400),
        ("/api/v1/pods?" + "x" * 3000, 414),
        ("/api/v1/namespaces?namespace=a", 400),
    ],
)
def test_bad_requests_get_json_statuses(server: ServerProcess, path: str, status: int) -> None:
    reply = server.get(path, api=True)
    assert reply.status == status
    assert reply.headers["Content-Type"] == "application/json"
    assert (reply.json()["kind"], reply.json()["code"]) == ("Status", status)


def test_methods_and_head(server: ServerProcess, tree: ResultsTree) -> None:
    posted = server.get("/api/v1/pods", api=True, method="POST")
    assert posted.status == 405 and posted.headers["Allow"] == "GET, HEAD"
    head = server.get("/api/v1/pods", api=True, method="HEAD")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["Content-Length"]) == len(generation_file(tree, layout.PODS))


def read_until_closed(conn: socket.socket, timeout: float) -> tuple[bytes, float]:
    """All the server sends until it closes, and when it closed (monotonic)."""
    conn.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return data, time.monotonic()
        data += chunk


def test_headers_over_the_cap_get_431_and_the_connection_closed(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        answer, _ = read_until_closed(conn, 5)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ", 2)[1] == b"431"
    assert json.loads(body)["code"] == 431
    assert 'reason="header_too_large"} ' in server.get("/metrics").body.decode()


def test_an_idle_connection_is_closed_after_the_idle_timeout(server: ServerProcess) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        answer, closed = read_until_closed(conn, 10)
    assert answer == b""
    assert 1.5 <= closed - started <= 5.0, closed - started


def test_a_slowloris_is_closed_after_the_request_timeout(server: ServerProcess) -> None:
    """A byte every 0.3 s keeps the connection active, so only the request timeout (2 s)
    closes it: before its headers could ever complete."""
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200
    started = time.monotonic()
    closed_after = None
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        for byte in request:
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - started
                break
            conn.settimeout(0.3)
            try:
                if conn.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None, "the trickle was never cut"
    assert 1.5 <= closed_after <= 5.0, closed_after
    assert re.search(r'reason="request_timeout"\} [1-9]', server.get("/metrics").body.decode())


def test_one_client_cannot_take_more_than_its_share(server: ServerProcess) -> None:
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(32)]
    try:
        time.sleep(0.3)  # accepted by the server's loop
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as extra:
            answer, _ = read_until_closed(extra, 5)
        assert answer == b""
        other = server.get("/healthz", source="127.0.0.2")
        assert other.status == 200
    finally:
        for conn in held:
            conn.close()
    # From the other address: the server may not have seen the 32 close yet.
    metrics = server.get("/metrics", source="127.0.0.2").body.decode()
    assert re.search(r'reason="per_client"\} [1-9]', metrics)


def test_probes_follow_the_heartbeat(server: ServerProcess, tree: ResultsTree) -> None:
    try:
        tree.heartbeat(ended_ago=20.0, interval=1.0, stuck_after=60.0)  # fresh enough to live
        assert server.get("/healthz").status == 200
        ready = server.get("/readyz")
        assert ready.status == 503 and ready.json()["ready"] is False
        stale = server.get("/api/v1/pods", api=True)
        assert 19 <= int(stale.headers["X-Nsinspect-Stale"]) <= 40
        marks = [e for e in stale.json()["errors"] if e["stage"] == "agent"]
        assert [m["reason"] for m in marks] == ["stale"]
        assert "has not completed a scan for" in marks[0]["message"]
        assert stale.json()["items"] == json.loads(generation_file(tree, layout.PODS))["items"]

        tree.heartbeat(ended_ago=120.0, stuck_after=60.0)
        assert server.get("/healthz").json()["status"] == "stale"
        tree.heartbeat(ended_ago=1.0, running_for=90.0, step="runtimes", stuck_after=60.0)
        stuck = server.get("/healthz")
        assert stuck.status == 503 and stuck.json()["status"] == "stuck"
        metrics = server.get("/metrics").body.decode()
        assert "\nnsinspect_scan_stuck 1\n" in metrics
        assert re.search(r'nsinspect_scan_running_seconds\{step="runtimes"\} 9\d\.', metrics)

        (tree.dir / layout.HEARTBEAT).unlink()
        gone = server.get("/healthz")
        assert gone.status == 503 and "no heartbeat from the scanner" in gone.json()["reason"]
    finally:
        tree.heartbeat()
    assert server.get("/healthz").status == 200
    assert "X-Nsinspect-Stale" not in server.get("/api/v1/pods", api=True).headers


class SilentScanner:
    """A detail socket that accepts and never answers (or answers `reply`)."""

    def __init__(self, path: Path, reply: bytes | None = None) -> None:
        self.path = path
        self.reply = reply
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        os.chown(path, 0, 65534)
        os.chmod(path, 0o660)
        self.listener.listen(8)
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.recv(4096)
            if self.reply is None:
                self.held.append(conn)
            else:
                conn.sendall(self.reply)
                conn.close()

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()
        self.path.unlink(missing_ok=True)


def test_pod_details_come_from_the_scanner_socket(server: ServerProcess, tree: ResultsTree) -> None:
    missing = server.get("/api/v1/pods/alpha/a1", api=True)
    assert missing.status == 503 and "the scanner is not running" in missing.json()["message"]
    socket_path = tree.dir / layout.DETAIL_SOCKET
    silent = SilentScanner(socket_path)
    try:
        started = time.monotonic()
        late = server.get("/api/v1/pods/alpha/a1", api=True)
        assert late.status == 504 and "did not answer within 1 s" in late.json()["message"]
        assert time.monotonic() - started < 3
    finally:
        silent.close()
    report = {"apiVersion": "nsinspect/v1", "kind": "PodReport", "pod": {"name": "a1"}}
    answering = SilentScanner(socket_path, b"200\n" + json.dumps(report).encode())
    try:
        assert server.get("/api/v1/pods/alpha/a1", api=True).json() == report
    finally:
        answering.close()


def test_the_server_runs_as_nobody_with_no_privilege(server: ServerProcess) -> None:
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        status = dict(
            line.split(":", 1) for line in (task / "status").read_text().splitlines() if ":" in line
        )
        assert status["Uid"].split() == ["65534"] * 4
        assert status["Gid"].split() == ["65534"] * 4
        assert status["Groups"].strip() == ""
        for field in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"):
            assert int(status[field], 16) == 0, (task.name, field)
        assert status["NoNewPrivs"].strip() == "1"


def test_refusals_at_start(tree: ResultsTree, tmp_path: Path) -> None:
    as_root = start_server(tree.dir, tmp_path, drop=False)
    assert as_root.process.wait(timeout=20) == 2
    assert "must not run as root" in as_root.log()
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    unreadable = start_server(private, tmp_path)
    assert unreadable.process.wait(timeout=20) == 2
    assert "cannot be read by uid 65534" in unreadable.log()
    required = start_server(tree.dir, tmp_path, "--api-auth", "required")
    assert required.process.wait(timeout=20) == 2
    assert "there are no credentials" in required.log()
    assert "Traceback" not in as_root.log() + unreadable.log() + required.log()


def test_sigterm_stops_within_a_second(tree: ResultsTree, tmp_path: Path) -> None:
    running = start_server(tree.dir, tmp_path)
    running.wait_serving()
    held = socket.create_connection(("127.0.0.1", running.port), timeout=5)
    try:
        took = running.stop()
    finally:
        held.close()
    assert running.process.returncode == 0
    assert took < 1.0, f"took {took:.2f} s"
    records = [json.loads(line) for line in running.log().splitlines() if line.strip()]
    assert records[-1]["message"] == "server stopped"


def test_a_results_dir_the_group_may_read_is_served(tmp_path: Path) -> None:
    with results_parent() as parent:
        tree = ResultsTree(parent / "r", {"x": ["p"]})
        tree.dir.mkdir(mode=0o700)
        tree.write()
        tree.heartbeat()
        os.chown(tree.dir / layout.HEARTBEAT, 0, 0)
        share(tree.dir)
        running = start_server(tree.dir, tmp_path)
        try:
            running.wait_serving()
            pods = running.get("/api/v1/pods", api=True).json()
            assert [i["pod"]["name"] for i in pods["items"]] == ["p"]
        finally:
            running.stop()


def test_requests_on_one_connection_are_answered_at_once(server: ServerProcess) -> None:
    """A response leaves in pieces (headers, then the file): with Nagle's algorithm on, each
    request on a kept-alive connection waited for the client's delayed ACK (~40 ms)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.api_port, timeout=5)
    took = []
    try:
        for _ in range(50):
            started = time.monotonic()
            connection.request("GET", "/api/v1/pods")
            response = connection.getresponse()
            response.read()
            took.append(time.monotonic() - started)
            assert response.status == 200
    finally:
        connection.close()
    assert sorted(took)[25] < 0.015, f"median {sorted(took)[25] * 1000:.1f} ms"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"\x16\x03\x01 not http at all\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 413),
        (
            b"GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            413,
        ),
    ],
)
def test_what_waitress_refuses_is_a_json_status_in_one_piece(
    server: ServerProcess, request_bytes: bytes, status: int
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(request_bytes)
        answer = raw.recv(65536)  # one read: head and body leave in one write
    document = json.loads(answer[answer.index(b"{") :])
    assert (document["kind"], document["code"]) == ("Status", status)
    assert server.get("/healthz").status == 200


def test_the_server_dies_with_the_process_that_started_it(tree: ResultsTree) -> None:
    """--parent-fd with --drop-to: killed, the parent can signal nothing, and the server,
    now another user, stops when the parent's end of the pipe closes."""
    parent_code = (
        "import os, subprocess, sys, time; r, w = os.pipe(); "
        "p = subprocess.Popen(sys.argv[1:] + ['--parent-fd', str(r)], pass_fds=(r,)); "
        "os.close(r); print(p.pid, flush=True); time.sleep(600)"
    )
    command = [sys.executable, "-m", "nsinspect.agent.server", "--results-dir", str(tree.dir),
               "--bind", "127.0.0.1", "--port", "0", "--api-port", "0",
               "--drop-to", "65534:65534"]  # fmt: skip
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code, *command], stdout=subprocess.PIPE, text=True
    )
    server_pid = 0
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        server = Path(f"/proc/{server_pid}")
        deadline = time.monotonic() + 20
        while "\nUid:\t65534\t" not in (server / "status").read_text():  # dropped: serving
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(server):
            assert time.monotonic() < deadline, "the server outlived its parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if server_pid and _alive(Path(f"/proc/{server_pid}")):
            os.kill(server_pid, signal.SIGKILL)  # an orphan the test made: it must not stay


def _alive(process: Path) -> bool:
    try:
        stat = (process / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_at_the_connection_cap_the_longest_idle_connection_makes_room(
    tree: ResultsTree, tmp_path: Path
) -> None:
    """--max-connections 3, three idle clients: a fourth (a probe) is served at once, and the
    connection idle the longest is closed for it; the server never holds more than three."""
    running = start_server(tree.dir, tmp_path, "--max-connections", "3", "--idle-timeout", "30")
    try:
        running.wait_serving()
        time.sleep(0.2)  # the probe's connection is gone
        held = []
        for source in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):
            held.append(
                socket.create_connection(("127.0.0.1", running.port), source_address=(source, 0))
            )
            time.sleep(0.1)  # in this order, the first the longest idle
        time.sleep(0.3)
        started = time.monotonic()
        answer = running.get("/healthz", source="127.0.0.9", timeout=15)
        waited = time.monotonic() - started
        closed = [_closed_by_server(conn) for conn in held]
        for conn in held:
            conn.close()
    finally:
        running.stop()
    assert answer.status == 200
    assert waited < 1.0, f"waited {waited:.1f} s"
    assert closed == [True, False, False]


def _closed_by_server(conn: socket.socket) -> bool:
    conn.settimeout(0.5)
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
