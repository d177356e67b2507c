"""The detail socket's protocol and its client: requests bounded to 4096 bytes and checked,
responses framed by a status line, and the client's distinct failures (not running, timeout)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nsinspect.agent.exchange.detail_protocol import (
    MAX_REQUEST_BYTES,
    BadDetailRequestError,
    DetailProtocolError,
    DetailRequest,
    ScannerNotRunning,
    ScannerTimeout,
    ask_detail,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    read_request_line,
)

ODD_NAMES = ["", "default", "a/../b", "line\nbreak", "ünï", "\udcff\udcfe", '"quote\\"']


@pytest.mark.parametrize("namespace", ODD_NAMES)
def test_requests_round_trip_any_name_as_one_ascii_line(namespace: str) -> None:
    request = DetailRequest(namespace=namespace, name="pod-" + namespace)
    line = encode_request(request)
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and line.isascii()
    assert decode_request(line) == request


def test_a_request_over_4096_bytes_is_refused_both_ways() -> None:
    longest = DetailRequest(namespace="", name="x" * (MAX_REQUEST_BYTES - 30))
    assert len(encode_request(longest)) <= MAX_REQUEST_BYTES
    with pytest.raises(BadDetailRequestError, match="longer than 4096 bytes"):
        encode_request(DetailRequest(namespace="", name="x" * MAX_REQUEST_BYTES))
    with pytest.raises(BadDetailRequestError, match="longer than 4096 bytes"):
        decode_request(b'{"namespace":"","name":"' + b"x" * MAX_REQUEST_BYTES + b'"}')


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{", "not one line of UTF-8 JSON"),
        (b"\xff\xfe", "not one line of UTF-8 JSON"),
        (b"[]", 'object of "namespace" and "name" only'),
        (b'{"namespace": "a"}', 'object of "namespace" and "name" only'),
        (b'{"namespace": "a", "name": "b", "x": 1}', 'object of "namespace" and "name" only'),
        (b'{"namespace": 1, "name": "b"}', '"namespace" must be a string'),
        (b'{"namespace": "a", "name": ""}', '"name" a non-empty string'),
    ],
)
def test_malformed_requests_say_what_is_wrong(line: bytes, message: str) -> None:
    with pytest.raises(BadDetailRequestError) as raised:
        decode_request(line)
    assert message in str(raised.value)


def test_responses_are_a_status_line_then_the_body() -> None:
    assert encode_response(404, b'{"kind":"Status"}') == b'404\n{"kind":"Status"}'
    assert decode_response(b"200\n{}\n") == (200, b"{}\n")
    for garbage in (b"", b"200", b"OK\n{}", b"201\n{}", b"-1\n"):
        with pytest.raises(DetailProtocolError):
            decode_response(garbage)
    with pytest.raises(ValueError, match="not a detail socket status code"):
        encode_response(302, b"")


def test_the_request_line_is_read_within_a_total_deadline() -> None:
    server, client = socket.socketpair()
    with server, client:
        client.sendall(b'{"namespace":"a","name":"b"}\n')
        assert read_request_line(server, 1.0) == b'{"namespace":"a","name":"b"}'

    server, client = socket.socketpair()
    with server, client:
        stop = threading.Event()

        def trickle() -> None:  # a byte every 0.1 s: each read is quick, the whole is not
            while not stop.wait(0.1):
                try:
                    client.send(b" ")
                except OSError:
                    return

        thread = threading.Thread(target=trickle)
        thread.start()
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            read_request_line(server, 0.5)
        assert time.monotonic() - started < 0.9
        stop.set()
        thread.join()


def test_an_endless_or_cut_request_line_is_refused() -> None:
    server, client = socket.socketpair()
    with server, client:
        client.sendall(b"x" * (MAX_REQUEST_BYTES + 100))
        with pytest.raises(BadDetailRequestError, match="longer than"):
            read_request_line(server, 1.0)
    server, client = socket.socketpair()
    with server, client:
        client.sendall(b'{"namespace"')
        client.shutdown(socket.SHUT_WR)
        with pytest.raises(BadDetailRequestError, match="ended before its newline"):
            read_request_line(server, 1.0)


@contextmanager
def listener(path: Path, answer: bytes | None) -> Iterator[list[bytes]]:
    """A scanner stand-in: reads each request, answers `answer` (None: never answers)."""
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.listen(4)
    sock.settimeout(0.1)
    seen: list[bytes] = []
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            seen.append(read_request_line(conn, 2.0))
            if answer is None:
                held.append(conn)
                continue
            conn.sendall(answer)
            conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        sock.close()


def test_ask_detail_sends_the_request_and_returns_code_and_body(tmp_path: Path) -> None:
    with listener(tmp_path / "detail.sock", b'404\n{"kind":"Status"}') as seen:
        assert ask_detail(tmp_path, "\udcff", "p") == (404, b'{"kind":"Status"}')
    assert [decode_request(line) for line in seen] == [DetailRequest("\udcff", "p")]


def test_ask_detail_without_a_scanner_is_not_running(tmp_path: Path) -> None:
    with pytest.raises(ScannerNotRunning, match=r"the scanner is not running \(.*detail\.sock"):
        ask_detail(tmp_path, "a", "b")
    left = socket.socket(socket.AF_UNIX)  # a socket file whose scanner died: refused
    left.bind(str(tmp_path / "detail.sock"))
    left.close()
    with pytest.raises(ScannerNotRunning, match="refused"):
        ask_detail(tmp_path, "a", "b")


def test_ask_detail_gives_up_after_its_timeout(tmp_path: Path) -> None:
    with listener(tmp_path / "detail.sock", None):
        started = time.monotonic()
        with pytest.raises(ScannerTimeout, match=r"did not answer within 0\.3 s"):
            ask_detail(tmp_path, "a", "b", timeout=0.3)
        assert time.monotonic() - started < 1.0


def test_ask_detail_refuses_a_garbled_answer(tmp_path: Path) -> None:
    with listener(tmp_path / "detail.sock", b"hello"), pytest.raises(DetailProtocolError):
        ask_detail(tmp_path, "a", "b")
