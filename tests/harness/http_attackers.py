"""Clients that attack the agent's HTTP serving (issue K), aimed only at loopback addresses.

A `Flood` is a set of TCP connections driven by one thread: each sends its payload at once
(the header flood: 98 headers of 65 KB, never finished by the blank line), a byte a second (a
slowloris) or nothing (an idle flood), and records when it connected, what the server answered
and when the server closed it; `in_waves` repeats a flood the server ends at once. Bounds: at
most MAX_CONNECTIONS connections (MAX_SENDING_CLIENTS that send anything) and MAX_SECONDS per
flood; leaving a `with` closes every socket and joins the flood's thread.
"""

from __future__ import annotations

import errno
import ipaddress
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

MAX_CONNECTIONS = 4_000
MAX_SENDING_CLIENTS = 20
MAX_SECONDS = 600.0
FD_MARGIN = 200  # the test's own files, the probes, the agent's pipes
FLOOD_SOURCE = "127.0.0.1"  # a pod's address


class FdLimitTooLowError(Exception):
    """The hard RLIMIT_NOFILE leaves no room for the flood (a test skips with this reason)."""


def loopback(address: str) -> str:
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"attacks are aimed at loopback addresses only, not {address}")
    return address


def raise_fd_limit(connections: int) -> None:
    """Lift the soft RLIMIT_NOFILE of this process to fit `connections`, within the hard one."""
    needed = connections + FD_MARGIN
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise FdLimitTooLowError(
            f"{connections} connections need {needed} fds; the hard limit is {hard}"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def oversized_headers(port: int, headers: int = 98, line_bytes: int = 65_000) -> bytes:
    """A GET whose header lines are each `line_bytes` long, left unfinished (no blank line)."""
    start = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
    lines = (
        f"X-Flood-{n:02d}: ".encode().ljust(line_bytes - 2, b"a") + b"\r\n" for n in range(headers)
    )
    return start + b"".join(lines)


def unfinished_request(port: int) -> bytes:
    """What a slowloris trickles: a request whose headers never end."""
    return f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode() + b"s" * 4096


@dataclass
class Connection:
    sock: socket.socket
    source: str
    payload: bytes
    opened: float  # time.monotonic()
    sent: int = 0
    connected_after: float | None = None
    closed_after: float | None = None  # by the server: end of stream or reset
    refused: bool = False  # the connect itself failed
    reset: bool = False  # closed by a reset rather than an end of stream
    reply: bytearray = field(default_factory=bytearray)

    @property
    def status_line(self) -> str:
        return self.reply.split(b"\r\n", 1)[0].decode("latin-1") if self.reply else ""

    @property
    def status(self) -> int | None:
        """The status code of the server's answer, None without one."""
        words = self.status_line.split()
        return int(words[1]) if len(words) > 1 and words[1].isdigit() else None

    @property
    def open(self) -> bool:
        return self.closed_after is None and not self.refused


@dataclass
class Flood:
    """`count` connections to 127.0.0.1:`port`, spread over `sources`; `trickle` sends one byte of
    the payload a second instead of all at once. Runs while in the `with`, at most `seconds`."""

    port: int
    count: int
    payload: bytes = b""
    trickle: bool = False
    sources: Sequence[str] = (FLOOD_SOURCE,)
    host: str = "127.0.0.1"
    seconds: float = 120.0
    connections: list[Connection] = field(default_factory=list)
    _selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if not 0 < self.count <= MAX_CONNECTIONS or not 0 < self.seconds <= MAX_SECONDS:
            raise ValueError(f"a flood is 1..{MAX_CONNECTIONS} connections, <= {MAX_SECONDS} s")
        if self.payload and self.count > MAX_SENDING_CLIENTS:
            raise ValueError(f"at most {MAX_SENDING_CLIENTS} connections send a payload")
        for address in (self.host, *self.sources):
            loopback(address)

    def __enter__(self) -> Flood:
        raise_fd_limit(self.count + len(self.connections))
        for n in range(self.count):
            self._connect(self.sources[n % len(self.sources)])
        self._thread = threading.Thread(target=self._run, name="http-flood", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            assert not self._thread.is_alive(), "the flood's thread did not end"
        for connection in self.connections:
            connection.sock.close()
        self._selector.close()

    def _connect(self, source: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind((source, 0))
        connection = Connection(sock, source, self.payload, time.monotonic())
        self.connections.append(connection)
        code = sock.connect_ex((self.host, self.port))
        if code not in (0, errno.EINPROGRESS):
            connection.refused = True
            return
        self._selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, connection)

    def _run(self) -> None:
        deadline = time.monotonic() + self.seconds
        next_drip = time.monotonic() + 1.0
        while not self._stop.is_set() and time.monotonic() < deadline:
            for key, mask in self._selector.select(timeout=0.05):
                self._serve(key.data, mask)
            if self.trickle and time.monotonic() >= next_drip:
                next_drip += 1.0
                for connection in self.connections:
                    if connection.open and connection.connected_after is not None:
                        self._send(connection, 1)

    def _serve(self, connection: Connection, mask: int) -> None:
        now = time.monotonic() - connection.opened
        if connection.connected_after is None and mask & selectors.EVENT_WRITE:
            failure = connection.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if failure not in (0, errno.ECONNRESET):
                connection.refused = True
                self._selector.unregister(connection.sock)
                return
            connection.connected_after = now
            if failure:  # accepted, then reset at once (a refused client, for the server)
                self._closed(connection, now, reset=True)
                return
        if mask & selectors.EVENT_READ:
            try:
                data = connection.sock.recv(65536)
            except OSError:
                self._closed(connection, now, reset=True)
                return
            connection.reply += data
            if not data:
                self._closed(connection, now)
                return
        if connection.connected_after is not None and not self.trickle:
            self._send(connection, len(connection.payload))
        if connection.open and (self.trickle or connection.sent >= len(connection.payload)):
            self._selector.modify(connection.sock, selectors.EVENT_READ, connection)

    def _send(self, connection: Connection, most: int) -> None:
        chunk = connection.payload[connection.sent : connection.sent + min(most, 262_144)]
        if not chunk:
            return
        try:
            connection.sent += connection.sock.send(chunk)
        except BlockingIOError:
            pass
        except OSError:  # reset or broken pipe: the server is done with it; what it said first
            self._drain(connection)  # is still queued
            self._closed(connection, time.monotonic() - connection.opened, reset=True)

    @staticmethod
    def _drain(connection: Connection) -> None:
        while True:
            try:
                data = connection.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            connection.reply += data

    def _closed(self, connection: Connection, after: float, reset: bool = False) -> None:
        connection.closed_after = after
        connection.reset = reset
        self._selector.unregister(connection.sock)

    def closed_within(self, seconds: float) -> list[Connection]:
        """The connections the server closed within `seconds` of their opening."""
        return [
            c for c in self.connections if c.closed_after is not None and c.closed_after <= seconds
        ]

    def wait_closed(self, timeout: float) -> bool:
        """Until the server has closed every connection that was opened; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.still_open:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    @property
    def connected(self) -> list[Connection]:
        return [c for c in self.connections if c.connected_after is not None]

    @property
    def held(self) -> list[Connection]:
        """Connected and not closed by the server."""
        return [c for c in self.connections if c.open and c.connected_after is not None]

    @property
    def still_open(self) -> list[Connection]:
        """Not closed by the server, not refused: held, or still connecting."""
        return [c for c in self.connections if c.open]

    def status_lines(self) -> list[str]:
        return [c.status_line for c in self.connections]


def in_waves(wave: Callable[[], Flood], seconds: float, wave_seconds: float = 5.0) -> list[Flood]:
    """Floods one after another for `seconds`: the next starts once the server has closed every
    connection of the last (or after `wave_seconds`), so an attack the server ends at once
    still lasts."""
    waves = []
    deadline = time.monotonic() + min(seconds, MAX_SECONDS)
    while time.monotonic() < deadline:
        with wave() as flood:
            flood.wait_closed(min(wave_seconds, max(0.0, deadline - time.monotonic())))
        waves.append(flood)
    return waves
