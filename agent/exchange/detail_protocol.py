"""The detail socket: the server asks the scanner for one pod's report with what is inside its
namespaces (only the privileged scanner can enter them).

    request:  one line of UTF-8 JSON, at most MAX_REQUEST_BYTES with its "\\n":
              {"namespace": "<ns>", "name": "<pod name>"}   ("" namespace: a namespace-less pod)
    response: the ASCII status code and "\\n" (200, 400, 404, 500, 503), then the JSON body (a
              PodReport for 200, a Status document otherwise); the scanner then closes.

Names may hold any bytes, surrogate-escaped; JSON's \\udcXX escapes carry them, so the request is
ASCII on the wire.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from .layout import DETAIL_SOCKET

MAX_REQUEST_BYTES = 4096
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a pod with very many sockets: a few MB
ANSWER_TIMEOUT_SECONDS = 15.0
CODES = frozenset({200, 400, 404, 500, 503})


class DetailUnavailableError(Exception):
    """The scanner gave no answer; the message says why, for the asker."""


class ScannerNotRunning(DetailUnavailableError):  # noqa: N818 (the contract's name)
    """The socket is missing or refuses connections: answer 503."""


class ScannerTimeout(DetailUnavailableError):  # noqa: N818 (the contract's name)
    """No complete answer within the timeout: answer 504."""


class DetailProtocolError(DetailUnavailableError):
    """The scanner answered something that is not a response (a bug, not a state): answer 502."""


class BadDetailRequestError(ValueError):
    """A request the scanner refuses with 400; the message says why."""


@dataclass(frozen=True, slots=True)
class DetailRequest:
    namespace: str  # "" for a namespace-less pod
    name: str


def encode_request(request: DetailRequest) -> bytes:
    line = json.dumps({"namespace": request.namespace, "name": request.name}) + "\n"
    data = line.encode("ascii")
    if len(data) > MAX_REQUEST_BYTES:
        raise BadDetailRequestError(f"the request is longer than {MAX_REQUEST_BYTES} bytes")
    return data


def decode_request(line: bytes) -> DetailRequest:
    """`line` without or with its "\\n"; raises BadDetailRequestError."""
    if len(line) > MAX_REQUEST_BYTES:
        raise BadDetailRequestError(f"the request is longer than {MAX_REQUEST_BYTES} bytes")
    try:
        doc = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadDetailRequestError(f"the request is not one line of UTF-8 JSON: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != {"namespace", "name"}:
        raise BadDetailRequestError('the request must be an object of "namespace" and "name" only')
    namespace, name = doc["namespace"], doc["name"]
    if not isinstance(namespace, str) or not isinstance(name, str) or not name:
        raise BadDetailRequestError('"namespace" must be a string and "name" a non-empty string')
    return DetailRequest(namespace=namespace, name=name)


def read_request_line(conn: socket.socket, timeout: float) -> bytes:
    """Read up to the first "\\n" within `timeout` seconds in all (not per read, so a client
    sending a byte at a time is dropped too). Raises BadDetailRequestError when the line is too long
    or the peer closes early, TimeoutError when the time is up."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        if len(data) >= MAX_REQUEST_BYTES:
            raise BadDetailRequestError(f"the request is longer than {MAX_REQUEST_BYTES} bytes")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request was not complete in time")
        conn.settimeout(remaining)
        chunk = conn.recv(MAX_REQUEST_BYTES + 1 - len(data))
        if not chunk:
            raise BadDetailRequestError("the request ended before its newline")
        data += chunk
    line = data.split(b"\n", 1)[0]
    if len(line) + 1 > MAX_REQUEST_BYTES:
        raise BadDetailRequestError(f"the request is longer than {MAX_REQUEST_BYTES} bytes")
    return line


def encode_response(code: int, body: bytes) -> bytes:
    if code not in CODES:
        raise ValueError(f"{code} is not a detail socket status code")
    return b"%d\n" % code + body


def decode_response(data: bytes) -> tuple[int, bytes]:
    head, newline, body = data.partition(b"\n")
    if not newline or not head.isdigit() or int(head) not in CODES:
        raise DetailProtocolError(
            f"the scanner's answer does not start with a status line: {head[:20]!r}"
        )
    return int(head), body


def ask_detail(
    results_dir: Path, namespace: str, name: str, timeout: float = ANSWER_TIMEOUT_SECONDS
) -> tuple[int, bytes]:
    """Ask the scanner for one pod's report: (status code, JSON body). Raises ScannerNotRunning,
    ScannerTimeout or DetailProtocolError; BadDetailRequestError for a request too long to send."""
    request = encode_request(DetailRequest(namespace=namespace, name=name))
    path = results_dir / DETAIL_SOCKET
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise ScannerNotRunning(f"the scanner is not running ({path}: {exc.strerror})") from exc
        except TimeoutError as exc:
            raise ScannerTimeout(f"the scanner did not answer within {timeout:g} s") from exc
        except OSError as exc:
            raise ScannerNotRunning(f"the scanner is not running ({path}: {exc})") from exc
        try:
            # A busy scanner answers 503 without reading: the answer may be there all the same.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.sendall(request)
            answer = _read_to_end(conn, deadline)
            if not answer:
                raise ScannerNotRunning("the scanner closed the connection without an answer")
            return decode_response(answer)
        except TimeoutError as exc:
            raise ScannerTimeout(f"the scanner did not answer within {timeout:g} s") from exc
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ScannerNotRunning(
                f"the scanner is not running (it closed the connection: {exc.strerror})"
            ) from exc


def _read_to_end(conn: socket.socket, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        conn.settimeout(remaining)
        chunk = conn.recv(1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise DetailProtocolError(f"the scanner's answer is over {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
