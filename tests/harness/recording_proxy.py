"""An HTTP proxy between a scraper and the agent that passes each GET through untouched (its
headers, the answer's bytes) and records the request's and the answer's headers: what Prometheus
asked for and what the agent answered, seen on the wire."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "host"})


@dataclass(frozen=True)
class Exchange:
    path: str
    request_headers: dict[str, str]
    status: int
    answer_headers: dict[str, str]
    body: bytes


@contextmanager
def recording_proxy(target_port: int) -> Iterator[tuple[int, list[Exchange]]]:
    """Yields (the proxy's port on 127.0.0.1, the exchanges so far, appended as they happen)."""
    exchanges: list[Exchange] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=10)
            try:
                upstream.request("GET", self.path, headers=headers)
                reply = upstream.getresponse()
                body = reply.read()  # as sent: http.client does not decode Content-Encoding
                answer = {k: v for k, v in reply.getheaders()}
            finally:
                upstream.close()
            exchanges.append(Exchange(self.path, dict(self.headers), reply.status, answer, body))
            self.send_response(reply.status)
            for name, value in answer.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], exchanges
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
