"""A stand-in for the Kubernetes API server: the pod list and watch of one node, in the real
API's JSON shapes (a PodList with a resourceVersion, a watch stream of ADDED/MODIFIED/DELETED
events, a 410 Gone ERROR event when a version expired). Only for tests: no API server runs here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


def pod_object(
    uid: str, name: str, namespace: str, node: str, version: int, **spec: Any
) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": str(version),
            "creationTimestamp": "2026-12-02T00:00:00Z",
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": "busybox"}],
            **spec,
        },
        "status": {"phase": "Running"},
    }


def send_json(handler: BaseHTTPRequestHandler, code: int, body: dict[str, Any]) -> None:
    """One JSON answer of a stand-in's request handler, with its length."""
    data = json.dumps(body).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def gone_event(version: int) -> dict[str, Any]:
    return {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"too old resource version: {version} ({version + 100})",
            "reason": "Expired",
            "code": 410,
        },
    }


@dataclass
class StandIn:
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> pod object
    version: int = 100
    # What the next watch requests send, one list of events per request; then an idle stream.
    scripted_watches: list[list[dict[str, Any]]] = field(default_factory=list)
    lists: int = 0
    watches: list[dict[str, list[str]]] = field(default_factory=list)
    list_selectors: list[str] = field(default_factory=list)
    # An HTTP status (403, say) every request is refused with, as a Status; 0: answer.
    refuse: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, pod: dict[str, Any]) -> None:
        with self.lock:
            self.version += 1
            pod["metadata"]["resourceVersion"] = str(self.version)
            self.pods[pod["metadata"]["uid"]] = pod


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        state = self.server.state
        if state.refuse:
            self._json(
                state.refuse,
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": state.refuse,
                 "reason": "Forbidden", "message": 'pods is forbidden: User "standin" cannot '
                 'list resource "pods" in API group "" at the cluster scope'},
            )  # fmt: skip
            return
        if url.path != "/api/v1/pods":
            self._json(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
            return
        if query.get("watch", ["false"])[0].lower() in ("true", "1"):
            with state.lock:
                state.watches.append(query)
                events = state.scripted_watches.pop(0) if state.scripted_watches else []
            self._stream(events)
            return
        with state.lock:
            state.lists += 1
            state.list_selectors.append(query.get("fieldSelector", [""])[0])
            body = {
                "kind": "PodList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(state.version)},
                "items": list(state.pods.values()),
            }
        self._json(200, body)

    def _json(self, code: int, body: dict[str, Any]) -> None:
        send_json(self, code, body)

    def _stream(self, events: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                self._chunk(json.dumps(event).encode() + b"\n")
            # Then hold the watch open, as the real server does, until the client goes away.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not self.server.closing.is_set():
                time.sleep(0.1)
            self._chunk(b"")
        except OSError:
            pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: StandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.closing = threading.Event()


@contextmanager
def serve(state: StandIn) -> Iterator[int]:
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()


def write_kubeconfig(path: Path, port: int) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "standin", "cluster": {"server": f"http://127.0.0.1:{port}"}}
                ],
                "users": [{"name": "standin", "user": {"token": "not-a-secret"}}],
                "contexts": [
                    {"name": "standin", "context": {"cluster": "standin", "user": "standin"}}
                ],
                "current-context": "standin",
            }
        )
    )
    return path
