"""A threaded WSGI server from the standard library, with JSON errors and quiet logs.

The agent serves a handful of small GET endpoints on a node-local port; the standard library's
server (the one prometheus-client itself uses) does that without adding a dependency. What it does
not do for us: it answers its own protocol errors (request line too long, bad version) with HTML,
and it percent-decodes the path before the application sees it. Both are changed here: errors
are JSON `Status` documents, and the raw path is passed on so encoded slashes can be refused.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .http_api import REASONS, status_document

LOG = logging.getLogger("nsinspect.http")


class JsonErrorRequestHandler(WSGIRequestHandler):
    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ["nsinspect.raw_path"] = self.path
        return environ

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        body = json.dumps(status_document(code, message or REASONS.get(code, "error"))).encode()
        self.close_connection = True
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass  # the client went away

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s %s", self.address_string(), format % args)


class ThreadingWsgiServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow client never holds up shutdown
    allow_reuse_address = True


class DualStackWsgiServer(ThreadingWsgiServer):
    address_family = socket.AF_INET6


def make_server(bind: str, port: int, app: Any) -> WSGIServer:
    server_class = DualStackWsgiServer if ":" in bind else ThreadingWsgiServer
    server = server_class((bind, port), JsonErrorRequestHandler)
    server.set_app(app)
    return server
