"""The scanner's detail socket, over a real unix socket: reports, 404 and 400 as Status
documents, 503 at once when the queue is full, a slow asker dropped after 2 s, the per-pod cache,
the socket's mode, a stale socket replaced and the socket removed at stop."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from harness.fakenode import Node
from nsinspect.agent.daemon.detail_server import BUSY, QUEUE_SIZE, WORKERS, DetailServer
from nsinspect.agent.exchange.detail_protocol import ask_detail
from nsinspect.agent.exchange.layout import SERVER_GID
from nsinspect.agent.model import Pod, Snapshot
from nsinspect.agent.report import PodReport
from nsinspect.agent.scanner import NodeReports


class Source:
    """The scanner's state, with the report made without entering namespaces (the fake node's
    are not real), counted, and held while `gate` is closed."""

    def __init__(self, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot
        self.reports = 0
        self.entered = threading.Semaphore(0)
        self.gate = threading.Event()
        self.gate.set()

    def latest(self) -> Snapshot | None:
        return self.snapshot

    def pod_report(self, pod: Pod, snapshot: Snapshot) -> PodReport:
        self.reports += 1
        self.entered.release()
        assert self.gate.wait(10)
        return NodeReports(snapshot).pod_report(pod, contents=False)


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    node = Node(tmp_path / "node")
    node.seed_pod()
    return node.snapshot()


@pytest.fixture
def source(snapshot: Snapshot) -> Source:
    return Source(snapshot)


@pytest.fixture
def results(tmp_path: Path, source: Source) -> Iterator[Path]:
    directory = tmp_path / "results"
    directory.mkdir()
    server = DetailServer(directory, source)
    server.start()
    try:
        yield directory
    finally:
        server.stop()


def test_a_report_equals_the_builders_and_is_cached(
    results: Path, source: Source, snapshot: Snapshot
) -> None:
    code, body = ask_detail(results, "", "my-nginx-pod")
    assert code == 200
    pod = NodeReports(snapshot).find("", "my-nginx-pod")
    assert pod is not None
    expected = NodeReports(snapshot).pod_report(pod, contents=False).to_json()
    assert json.loads(body) == json.loads(json.dumps(expected))
    assert ask_detail(results, "", "my-nginx-pod") == (200, body)
    assert source.reports == 1  # the second answer came from the cache
    source.snapshot = msgspec.structs.replace(snapshot, taken_at=snapshot.taken_at + 1)
    assert ask_detail(results, "", "my-nginx-pod")[0] == 200
    assert source.reports == 2  # a new scan: a new report


def test_the_cache_lasts_five_seconds(
    results: Path, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    ask_detail(results, "", "my-nginx-pod")
    later = time.monotonic() + 5.1
    monkeypatch.setattr("nsinspect.agent.daemon.detail_server.time.monotonic", lambda: later)
    ask_detail(results, "", "my-nginx-pod")
    assert source.reports == 2


def status(body: bytes) -> tuple[str, int, str]:
    document = json.loads(body)
    return document["kind"], document["code"], document["message"]


def test_unknown_pods_are_404_with_today_s_message(results: Path) -> None:
    code, body = ask_detail(results, "default", "nope")
    assert code == 404
    assert status(body) == ("Status", 404, 'pod "nope" not found in namespace "default" on node n1')
    code, body = ask_detail(results, "", "nope")
    assert status(body)[2] == 'pod "nope" not found in no namespace on node n1'


def raw_exchange(results: Path, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(5)
        conn.connect(str(results / "detail.sock"))
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize(
    ("request_line", "message"),
    [
        (b"{not json\n", "not one line of UTF-8 JSON"),
        (b'{"namespace": "", "name": "a", "more": 1}\n', '"namespace" and "name" only'),
        (b"x" * 5000, "longer than 4096 bytes"),
    ],
)
def test_bad_requests_are_400(results: Path, request_line: bytes, message: str) -> None:
    answer = raw_exchange(results, request_line)
    head, _, body = answer.partition(b"\n")
    assert head == b"400"
    kind, code, text = status(body)
    assert (kind, code) == ("Status", 400) and message in text


def test_no_scan_yet_is_503(tmp_path: Path) -> None:
    server = DetailServer(tmp_path, Source(None))
    server.start()
    try:
        code, body = ask_detail(tmp_path, "", "my-nginx-pod")
    finally:
        server.stop()
    assert (code, status(body)[2]) == (503, "no scan has completed yet")


def test_a_full_queue_answers_503_at_once(results: Path, source: Source) -> None:
    source.gate.clear()
    askers = [
        threading.Thread(target=ask_detail, args=(results, "", "my-nginx-pod"))
        for _ in range(WORKERS)
    ]
    for asker in askers:
        asker.start()
    for _ in range(WORKERS):  # both workers are inside a report
        assert source.entered.acquire(timeout=5)
    waiting = []
    try:
        for _ in range(QUEUE_SIZE):
            conn = socket.socket(socket.AF_UNIX)
            conn.connect(str(results / "detail.sock"))
            waiting.append(conn)
        time.sleep(0.3)  # let the accepting thread queue them
        started = time.monotonic()
        code, body = ask_detail(results, "", "my-nginx-pod", timeout=5)
        assert time.monotonic() - started < 1.0
        assert (code, status(body)[2]) == (503, BUSY)
    finally:
        source.gate.set()
        for conn in waiting:
            conn.close()
        for asker in askers:
            asker.join()


def test_a_slow_asker_is_dropped_after_two_seconds(results: Path) -> None:
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(results / "detail.sock"))
        conn.sendall(b'{"namespace": ')
        conn.settimeout(10)
        started = time.monotonic()
        assert conn.recv(100) == b""  # closed without an answer
        assert 1.8 < time.monotonic() - started < 3.5
    assert ask_detail(results, "", "my-nginx-pod")[0] == 200  # the worker is free again


def test_the_socket_is_for_the_server_s_group_only(results: Path) -> None:
    st = os.lstat(results / "detail.sock")
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    if os.geteuid() == 0:
        assert st.st_gid == SERVER_GID


def test_a_stale_socket_is_replaced_and_the_socket_removed_at_stop(
    tmp_path: Path, source: Source
) -> None:
    left = socket.socket(socket.AF_UNIX)
    left.bind(str(tmp_path / "detail.sock"))  # a scanner that died left it
    left.close()
    server = DetailServer(tmp_path, source)
    server.start()
    assert ask_detail(tmp_path, "", "my-nginx-pod")[0] == 200
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    assert not (tmp_path / "detail.sock").exists()
