"""The scanner's detail socket: one pod's report with what is inside its namespaces, for the
server, which may not enter them itself. The protocol is agent/exchange/detail_protocol.py's.

Entering a pod's namespaces costs tens of milliseconds, and anyone who reaches the server may ask:
one thread accepts, a bounded queue holds what waits (full: 503 at once, never a pile-up), two
workers answer, and a report is reused for a few seconds for the same pod of the same scan.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Protocol

from ..exchange.detail_protocol import (
    BadDetailRequestError,
    DetailRequest,
    decode_request,
    encode_response,
    read_request_line,
)
from ..exchange.layout import DETAIL_SOCKET, SOCKET_MODE, share_with_server
from ..model import Pod, Snapshot
from ..report import PodReport, Status
from ..report.incomplete import Privileges
from ..scanner import NodeReports

LOG = logging.getLogger("nsinspect.agent")
QUEUE_SIZE = 16
WORKERS = 2
CACHE_SECONDS = 5.0
CACHE_ENTRIES = 64
READ_TIMEOUT_SECONDS = 2.0
SEND_TIMEOUT_SECONDS = 5.0  # a server not reading its answer frees the worker after this
ACCEPT_POLL_SECONDS = 0.2  # how soon the accepting thread sees a stop
DRAIN_READS = 4  # at most this many reads of what has arrived unread, before closing
REASONS = {
    400: "Bad Request",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
NO_HINTS = Privileges(root=True, ptrace=True)  # `find` only: no document is made from it
BUSY = "the scanner is busy with other detail requests; try again"


def status_body(code: int, message: str) -> bytes:
    document = Status(code=code, reason=REASONS.get(code, ""), message=message).to_json()
    return json.dumps(document, separators=(",", ":")).encode()


class DetailSource(Protocol):
    """What the detail socket answers from (the scanner's ServingState)."""

    def latest(self) -> Snapshot | None: ...

    def pod_report(self, pod: Pod, snapshot: Snapshot) -> PodReport: ...


class DetailServer:
    def __init__(self, results_dir: Path, source: DetailSource) -> None:
        self.path = results_dir / DETAIL_SOCKET
        self.source = source
        self._queue: queue.Queue[socket.socket | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._stop = threading.Event()
        self._cache: dict[tuple[str, str, float], tuple[float, bytes]] = {}
        self._cache_lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Bind the socket (replacing one a dead scanner left) and start answering."""
        remove_socket(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        # Until the chmod, the socket has the umask's mode; the results directory (0750) keeps
        # everyone but the server's group out meanwhile.
        listener.bind(str(self.path))
        os.chmod(self.path, SOCKET_MODE)
        share_with_server(self.path)
        listener.listen(QUEUE_SIZE)
        listener.settimeout(ACCEPT_POLL_SECONDS)
        self._listener = listener
        self._threads = [threading.Thread(target=self._accept, name="detail-accept", daemon=True)]
        self._threads += [
            threading.Thread(target=self._work, name=f"detail-{i}", daemon=True)
            for i in range(WORKERS)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop accepting, remove the socket; a worker entering a namespace finishes alone."""
        self._stop.set()
        for thread in self._threads[:1]:
            thread.join(timeout=1.0)
        if self._listener is not None:
            self._listener.close()
        remove_socket(self.path)
        while True:
            try:
                conn = self._queue.get_nowait()
            except queue.Empty:
                break
            if conn is not None:
                conn.close()
        for _ in range(WORKERS):
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if not self._stop.is_set():
                    LOG.error("the detail socket stopped accepting: %s", exc)
                return
            try:
                self._queue.put_nowait(conn)
            except queue.Full:
                self._refuse(conn)

    @staticmethod
    def _refuse(conn: socket.socket) -> None:
        """503 at once, without reading: the accepting thread never waits on a client."""
        try:
            conn.settimeout(0.5)
            conn.sendall(encode_response(503, status_body(503, BUSY)))
        except OSError:
            pass
        close_gently(conn)

    def _work(self) -> None:
        while not self._stop.is_set():
            conn = self._queue.get()
            if conn is None:
                return
            try:
                self._answer(conn)
            except OSError as exc:  # the asker went away; nothing to tell it
                LOG.debug("detail request dropped: %s", exc)
            close_gently(conn)

    def _answer(self, conn: socket.socket) -> None:
        try:
            line = read_request_line(conn, READ_TIMEOUT_SECONDS)
            request = decode_request(line)
        except TimeoutError:
            LOG.debug("detail request not complete within %g s: dropped", READ_TIMEOUT_SECONDS)
            return
        except BadDetailRequestError as exc:
            code, body = 400, status_body(400, str(exc))
        else:
            code, body = self._respond(request)
        conn.settimeout(SEND_TIMEOUT_SECONDS)
        conn.sendall(encode_response(code, body))

    def _respond(self, request: DetailRequest) -> tuple[int, bytes]:
        snapshot = self.source.latest()
        if snapshot is None:
            return 503, status_body(503, "no scan has completed yet")
        key = (request.namespace, request.name, snapshot.taken_at)
        now = time.monotonic()
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return 200, cached[1]
        pod = NodeReports(snapshot, NO_HINTS).find(request.namespace, request.name)
        if pod is None:
            where = f'namespace "{request.namespace}"' if request.namespace else "no namespace"
            message = f'pod "{request.name}" not found in {where} on node {snapshot.node}'
            return 404, status_body(404, message)
        try:
            report = self.source.pod_report(pod, snapshot)
            body = json.dumps(report.to_json(), separators=(",", ":")).encode()
        except Exception:  # a bug must cost one request, never the scanner
            LOG.exception("detail report of %r/%r failed", request.namespace, request.name)
            return 500, status_body(500, "internal error; see the scanner's log")
        with self._cache_lock:
            for stale in [k for k, (expires, _) in self._cache.items() if expires <= now]:
                del self._cache[stale]
            if len(self._cache) < CACHE_ENTRIES:
                self._cache[key] = (now + CACHE_SECONDS, body)
        return 200, body


def close_gently(conn: socket.socket) -> None:
    """Close after the answer without losing it: closing a unix socket over unread bytes (a
    request cut off, one refused unread) resets the peer, which may then not read the answer."""
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.setblocking(False)
        for _ in range(DRAIN_READS):
            if not conn.recv(65536):
                break
    except OSError:  # nothing more has arrived (EAGAIN), or the peer is gone
        pass
    finally:
        conn.close()


def remove_socket(path: Path) -> None:
    """Remove a socket left at `path`; anything else there is left alone (and bind then fails)."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
