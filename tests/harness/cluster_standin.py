"""A stand-in API server for the remote CLI: pod lookups, agent discovery and the pod proxy.

It serves the real API's JSON shapes (Pod, PodList, Status) for the calls the CLI makes, and
forwards `/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/<path>` to a real agent listening on
this machine, as the API server would forward it to the agent pod. Only for tests.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

AGENT_LABELS = {"app.kubernetes.io/name": "nsinspect", "app.kubernetes.io/component": "agent"}
POD_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)$")
LIST_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods$")
PROXY_PATH = re.compile(
    r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<pod>[^/:]+):(?P<port>\d+)/proxy/(?P<rest>.*)$"
)


def pod(
    name: str, namespace: str, node: str, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "labels": labels or {},
        },
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": "Running"},
    }


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}  # fmt: skip


@dataclass
class Cluster:
    pods: list[dict[str, Any]] = field(default_factory=list)
    agents: dict[str, str] = field(default_factory=dict)  # agent pod name -> "127.0.0.1:port"
    forbidden: set[str] = field(default_factory=set)  # "get" or "list" refused everywhere
    delay: float = 0.0  # seconds before answering anything (for timeouts)
    requests: list[str] = field(default_factory=list)

    def add_agent(self, name: str, node: str, address: str) -> None:
        self.pods.append(pod(name, "nsinspect", node, AGENT_LABELS))
        self.agents[name] = address


def _matches(item: dict[str, Any], query: dict[str, list[str]]) -> bool:
    for selector in query.get("labelSelector", [""])[0].split(","):
        if selector:
            key, _, value = selector.partition("=")
            if item["metadata"]["labels"].get(key) != value:
                return False
    field_selector = query.get("fieldSelector", [""])[0]
    if field_selector.startswith("spec.nodeName="):
        return bool(item["spec"]["nodeName"] == field_selector.split("=", 1)[1])
    return True


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        cluster = self.server.cluster
        time.sleep(cluster.delay)
        url = urlparse(self.path)
        path = unquote(url.path)  # the API server works on the decoded path, as Go's net/http
        cluster.requests.append(path)
        if found := PROXY_PATH.match(path):
            self._proxy(found, url.query)
        elif found := POD_PATH.match(path):
            self._get_pod(found.group("ns"), found.group("name"))
        elif found := LIST_PATH.match(path):
            self._list(found.group("ns"), parse_qs(url.query))
        else:
            self._send(
                404, status(404, "NotFound", "the server could not find the requested resource")
            )

    def _get_pod(self, namespace: str, name: str) -> None:
        if "get" in self.server.cluster.forbidden:
            self._forbidden("get", namespace, f'pods "{name}"')
            return
        for item in self.server.cluster.pods:
            if (item["metadata"]["namespace"], item["metadata"]["name"]) == (namespace, name):
                self._send(200, item)
                return
        self._send(404, status(404, "NotFound", f'pods "{name}" not found'))

    def _forbidden(self, verb: str, namespace: str, what: str) -> None:
        message = (
            f'{what} is forbidden: User "alice" cannot {verb} resource "pods" in API group "" '
            f'in the namespace "{namespace}"'
        )
        self._send(403, status(403, "Forbidden", message))

    def _list(self, namespace: str, query: dict[str, list[str]]) -> None:
        if "list" in self.server.cluster.forbidden:
            self._forbidden("list", namespace, "pods")
            return
        items = [
            item
            for item in self.server.cluster.pods
            if item["metadata"]["namespace"] == namespace and _matches(item, query)
        ]
        self._send(200, {"apiVersion": "v1", "kind": "PodList",
                         "metadata": {"resourceVersion": "1"}, "items": items})  # fmt: skip

    def _proxy(self, found: re.Match[str], query: str) -> None:
        address = self.server.cluster.agents.get(found.group("pod"))
        if address is None:
            self._send(404, status(404, "NotFound", f'pods "{found.group("pod")}" not found'))
            return
        target = f"http://{address}/{found.group('rest')}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(target, timeout=30) as reply:
                self._send_raw(reply.status, reply.read())
        except urllib.error.HTTPError as error:
            self._send_raw(error.code, error.read())
        except OSError as error:
            self._send(
                503, status(503, "ServiceUnavailable", f"error trying to reach service: {error}")
            )

    def _send(self, code: int, body: dict[str, Any]) -> None:
        self._send_raw(code, json.dumps(body).encode())

    def _send_raw(self, code: int, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cluster = cluster


@contextmanager
def serve_cluster(cluster: Cluster) -> Iterator[int]:
    server = _Server(cluster)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
