"""The HTTP listeners: waitress, with the limits a hostile pod network needs.

Waitress gives the idle timeout (channel_timeout), the header cap and the backlog. Four things
are added here, by subclassing its server and channel (its hooks, no globals patched): a cap of
connections per client address (one client cannot take the whole connection limit), a timeout on
incomplete request headers (a slowloris that trickles bytes is never idle), errors answered as
JSON `Status` documents, counted by reason, and a connection cap that keeps accepting: at the
cap, the connection idle the longest is closed to make room. Waitress's own cap stops accepting,
and then the node's probes wait in the backlog behind a flood from many addresses until idle
connections time out (16 addresses x 32 idle connections failed 30 of 31 probes); with eviction
a probe, which sends its request at once, is served while the idle flood is pushed out.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import RequestHeaderFieldsTooLarge

from .connections import ConnectionGuard, Limits, Rejection
from .request_checks import REASONS, status_bytes

LOG = logging.getLogger("nsinspect.server")


class JsonErrorTask(ErrorTask):  # type: ignore[misc]
    """Waitress's own errors (bad request line, headers over the cap, a body) as JSON `Status`."""

    def execute(self) -> None:
        error = self.request.error
        code = int(error.code)
        if isinstance(error, RequestHeaderFieldsTooLarge):
            message = (
                f"the request's headers exceed {self.channel.adj.max_request_header_size} bytes"
            )
        else:
            message = f"{error.reason}: {error.body}"
        body = status_bytes(code, message)
        self.status = f"{code} {REASONS.get(code, error.reason)}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        # Head and body in one write: waitress sends each write at once (send_bytes 1), and a
        # client that reads one segment of a refused request should get the whole answer.
        head = self.build_response_header()
        self.wrote_header = True
        self.content_bytes_written = len(body)
        self.channel.write_soon(head + body)


class GuardedChannel(HTTPChannel):  # type: ignore[misc]
    error_task_class = JsonErrorTask
    guard: ConnectionGuard
    peer = ""
    request_started = 0.0  # time.time() of the first byte of the request being received
    counted = False

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self.request_started = time.time()
        result: bool = super().received(data)
        return result

    def del_channel(self, map: Any = None) -> None:
        super().del_channel(map)
        if self.counted:
            self.counted = False
            self.guard.release(self.peer)


class GuardedServer(TcpWSGIServer):  # type: ignore[misc]
    channel_class = GuardedChannel
    next_channel_cleanup: float  # waitress's, set in its __init__

    def __init__(self, guard: ConnectionGuard, **kw: Any) -> None:
        self.guard = guard
        super().__init__(**kw)

    def handle_accept(self) -> None:
        try:
            accepted = self.accept()
            if accepted is None:
                return
            conn, addr = accepted
            self.set_socket_options(conn)  # TCP_NODELAY: a response's pieces leave at once
        except OSError:
            return  # the client went away before accept: nothing to serve
        peer = str(addr[0])
        if not self.guard.admit(peer):
            _close_at_once(conn)
            return
        # One cap for both listeners: admit() has counted this connection already.
        at_cap = self.guard.open_connections() > self.guard.limits.max_connections
        if at_cap and not self._evict():
            self.guard.release(peer)
            self.guard.reject(Rejection.AT_CAPACITY)
            _close_at_once(conn)
            return
        try:
            channel = self.channel_class(self, conn, addr, self.adj, map=self._map)
        except OSError:
            self.guard.release(peer)
            conn.close()
            return
        channel.guard, channel.peer, channel.counted = self.guard, peer, True

    def readable(self) -> bool:
        """Accept whatever the number of connections (handle_accept makes room), and run the
        maintenance on its interval, as waitress's own readable does."""
        now = time.time()
        if now >= self.next_channel_cleanup:
            self.next_channel_cleanup = now + self.adj.cleanup_interval
            self.maintenance(now)
        return bool(self.accepting)

    def _evict(self) -> bool:
        """Close the connection idle the longest that is not being answered; False when every
        one is (then the new connection is refused)."""
        idle = [
            channel
            for channel in self._map.values()
            if isinstance(channel, GuardedChannel)
            and not channel.requests
            and not channel.will_close
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda channel: channel.last_activity)
        self.guard.reject(Rejection.AT_CAPACITY)
        _reset_on_close(oldest.socket)
        oldest.handle_close()
        return True

    def maintenance(self, now: float) -> None:
        """Close idle channels (channel_timeout), channels whose request is still incomplete
        `request_timeout` seconds after its first byte, and channels whose client has read
        nothing of a pending answer for channel_timeout (a writer blocked on it holds one of the
        few worker threads)."""
        idle_cutoff = now - self.adj.channel_timeout
        request_cutoff = now - self.guard.limits.request_timeout
        for channel in list(self.active_channels.values()):
            if channel.will_close:
                continue
            if channel.requests:
                if channel.total_outbufs_len and channel.last_activity < idle_cutoff:
                    # Closed here: will_close would wait for the socket to be writable, which
                    # a client that reads nothing never lets it be. The blocked writer wakes
                    # to a closed channel and lets its thread go.
                    self.guard.reject(Rejection.IDLE_TIMEOUT)
                    _reset_on_close(channel.socket)  # drop the unread bytes the kernel holds
                    channel.handle_close()
                continue
            pending = channel.request
            if pending is not None and not pending.completed:
                if channel.request_started < request_cutoff:
                    channel.will_close = True
                    self.guard.reject(Rejection.REQUEST_TIMEOUT)
            elif channel.last_activity < idle_cutoff:
                channel.will_close = True
                self.guard.reject(Rejection.IDLE_TIMEOUT)


def _reset_on_close(conn: socket.socket) -> None:
    """Make close() a reset: the client learns at once, and nothing of it stays in the kernel
    (no TIME_WAIT, no unsent bytes)."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _close_at_once(conn: socket.socket) -> None:
    _reset_on_close(conn)
    conn.close()


class Listeners:
    """The listening sockets, one task dispatcher, one socket map: `run` serves until `stop`."""

    def __init__(
        self,
        app: Callable[..., Any] | None,
        addresses: list[tuple[str, int]],
        limits: Limits,
    ) -> None:
        self.guard = ConnectionGuard(limits)
        self.adj = Adjustments(
            listen=" ".join(_listen_spec(host, port) for host, port in addresses),
            threads=limits.threads,
            # Never reached: handle_accept keeps the number of connections at the cap by
            # closing the longest idle one (waitress's own cap would stop accepting instead).
            connection_limit=1 << 30,
            channel_timeout=limits.idle_timeout,
            cleanup_interval=1,
            backlog=limits.backlog,
            max_request_header_size=limits.max_header_bytes,
            max_request_body_size=0,
            asyncore_use_poll=True,
            asyncore_loop_timeout=1,
            # Full documents go out from their files (wsgi.file_wrapper); composed ones in writes
            # of 64 KiB. A writer blocks at the high watermark, long before the outbuf would
            # spill to a temporary file (the root filesystem is read-only).
            outbuf_high_watermark=1024 * 1024,
            outbuf_overflow=8 * 1024 * 1024,
            inbuf_overflow=64 * 1024,
            expose_tracebacks=False,
            ident="nsinspect",
            # No X-Forwarded-* header is read: no proxy-header middleware around the app.
            clear_untrusted_proxy_headers=False,
        )
        self.map: dict[int, Any] = {}
        self.dispatcher = ThreadedTaskDispatcher()  # its threads start in run(): after the drop
        self.servers = [
            GuardedServer(
                self.guard,
                application=app or _not_ready,
                map=self.map,
                dispatcher=self.dispatcher,
                adj=self.adj,
                sockinfo=sockinfo,
            )
            for sockinfo in self.adj.listen
        ]
        self._stopping = threading.Event()

    def set_app(self, app: Callable[..., Any]) -> None:
        """The application, once it knows the ports the listeners got."""
        for server in self.servers:
            server.application = app

    @property
    def ports(self) -> list[int]:
        return [int(server.effective_port) for server in self.servers]

    def run(self) -> None:
        self.dispatcher.set_thread_count(self.guard.limits.threads)
        while not self._stopping.is_set():
            wasyncore.loop(timeout=0.25, map=self.map, use_poll=True, count=1)
        self.dispatcher.shutdown(cancel_pending=True, timeout=0.5)
        wasyncore.close_all(self.map)

    def stop(self) -> None:
        self._stopping.set()


def _not_ready(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "application/json")])
    return [status_bytes(503, "the server is starting")]


def _listen_spec(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
