"""A stand-in API server for the remote CLI and the agent's access checks: pod lookups, agent
discovery, pod port-forward, TokenReview and SubjectAccessReview.

It serves the real API's JSON shapes (Pod, PodList, Status, TokenReview, SubjectAccessReview)
for the calls the CLI and the agent make; it forwards
`/api/v1/namespaces/<ns>/pods/<pod>/portforward?ports=N` (websocket) to a real agent listening
on this machine, as the API server and kubelet would reach the agent pod. Callers are
authenticated by bearer token when `require_auth` is set. Only for tests.
"""

from __future__ import annotations

import json
import re
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from harness.cluster_reviews import (
    ACCESS_REVIEW_PATH,
    TOKEN_REVIEW_PATH,
    access_review,
    token_review,
)
from harness.kube_standin import send_json, write_kubeconfig
from harness.kubelet_portforward import LIFETIME, ForwardedPort
from harness.label_selection import selects

AGENT_LABELS = {"app.kubernetes.io/name": "nsinspect", "app.kubernetes.io/component": "agent"}
POD_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)$")
LIST_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods$")
ALL_PODS_PATH = "/api/v1/pods"
PORT_FORWARD_PATH = re.compile(
    r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<pod>[^/]+)/portforward$"
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
    # agent pod name -> its ports: {"9977": "127.0.0.1:<metrics port>", "9978": "127.0.0.1:<api>"}
    agents: dict[str, dict[str, str]] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)  # "get" or "list" refused everywhere
    delay: float = 0.0  # seconds before answering anything (for timeouts)
    requests: list[str] = field(default_factory=list)
    # Authentication: bearer token -> username (groups: system:authenticated).
    tokens: dict[str, str] = field(default_factory=dict)
    # Whether the API's own callers (the CLI, the agent's reviews) need a token from `tokens`.
    require_auth: bool = False
    # RBAC: username (or group) -> namespaces where it may get pods; "*": every one, and "".
    rbac: dict[str, set[str]] = field(default_factory=dict)
    # RBAC for nonResourceURLs: username (or group) -> paths it may get ("/metrics").
    non_resource: dict[str, set[str]] = field(default_factory=dict)
    # Who may create pods/portforward in the agents' namespace; None: everyone.
    portforward_users: set[str] | None = None
    # Port-forwards start with a frame on a channel of no port (a broken API server).
    portforward_stray_frame: bool = False
    # Port-forward requests are accepted and never answered, while this stays set.
    portforward_silent: bool = False
    # The labelSelector of each pod list ("" for none).
    selectors: list[str] = field(default_factory=list)
    # Each TokenReview / SubjectAccessReview posted: {"kind": ..., "spec": ..., "caller": ...}.
    reviews: list[dict[str, Any]] = field(default_factory=list)

    def add_agent(self, name: str, node: str, address: str, api_address: str | None = None) -> None:
        """An agent pod on `node`: `address` is its metrics port (9977), `api_address` its API
        port (9978), each "127.0.0.1:<port>" of a real agent on this machine."""
        self.pods.append(pod(name, "nsinspect", node, AGENT_LABELS))
        self.agents[name] = {"9977": address}
        if api_address is not None:
            self.agents[name]["9978"] = api_address

    def user(self, authorization: str | None) -> str | None:
        """Who calls, from the Authorization header; None: refused (401)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() in self.tokens:
            return self.tokens[token.strip()]
        return None if self.require_auth else "alice"


def _matches(item: dict[str, Any], query: dict[str, list[str]]) -> bool:
    if not selects(item["metadata"].get("labels") or {}, query.get("labelSelector", [""])[0]):
        return False
    field_selector = query.get("fieldSelector", [""])[0]
    if field_selector.startswith("spec.nodeName="):
        return bool(item["spec"]["nodeName"] == field_selector.split("=", 1)[1])
    return True


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    caller: str | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        cluster = self.server.cluster
        time.sleep(cluster.delay)
        url = urlparse(self.path)
        path = unquote(url.path)  # the API server works on the decoded path, as Go's net/http
        cluster.requests.append(path)
        self.caller = cluster.user(self.headers.get("Authorization"))
        if self.caller is None:
            self._send(401, status(401, "Unauthorized", "Unauthorized"))
        elif found := PORT_FORWARD_PATH.match(path):
            self._port_forward(found.group("ns"), found.group("pod"), parse_qs(url.query))
        elif found := POD_PATH.match(path):
            self._get_pod(found.group("ns"), found.group("name"))
        elif found := LIST_PATH.match(path):
            self._list(found.group("ns"), parse_qs(url.query))
        elif path == ALL_PODS_PATH:
            self._list(None, parse_qs(url.query))
        else:
            self._send(
                404, status(404, "NotFound", "the server could not find the requested resource")
            )

    def do_POST(self) -> None:
        cluster = self.server.cluster
        time.sleep(cluster.delay)
        path = unquote(urlparse(self.path).path)
        cluster.requests.append(path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if 0 < length <= 1 << 20 else b""
        caller = cluster.user(self.headers.get("Authorization"))
        if caller is None:
            self._send(401, status(401, "Unauthorized", "Unauthorized"))
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, status(400, "BadRequest", "the request body is not JSON"))
            return
        if path == TOKEN_REVIEW_PATH:
            code, answer = token_review(cluster.tokens, body)
        elif path == ACCESS_REVIEW_PATH:
            code, answer = access_review(cluster.rbac, cluster.non_resource, body)
        else:
            self._send(405, status(405, "MethodNotAllowed", "the server does not allow this "
                                   "method on the requested resource"))  # fmt: skip
            return
        cluster.reviews.append({"kind": answer.get("kind"), "spec": answer.get("spec"),
                                "caller": caller, "status": answer.get("status")})  # fmt: skip
        self._send(code, answer)

    def _port_forward(self, namespace: str, name: str, query: dict[str, list[str]]) -> None:
        cluster = self.server.cluster
        deadline = time.monotonic() + LIFETIME
        while cluster.portforward_silent and time.monotonic() < deadline:
            time.sleep(0.05)
        allowed = cluster.portforward_users
        if allowed is not None and self.caller not in allowed:
            message = (
                f'pods "{name}" is forbidden: User "{self.caller}" cannot create resource '
                f'"pods/portforward" in API group "" in the namespace "{namespace}"'
            )
            self._send(403, status(403, "Forbidden", message))
            return
        ports = self.server.cluster.agents.get(name) if namespace == "nsinspect" else None
        if ports is None:
            self._send(404, status(404, "NotFound", f'pods "{name}" not found'))
            return
        wanted = query.get("ports", [""])[0]
        if not wanted.isdigit() or not 0 < int(wanted) < 65536:
            self._send(400, status(400, "BadRequest", f'invalid port "{wanted}"'))
            return
        request = f"{self.requestline}\r\n" + "".join(
            f"{key}: {value}\r\n" for key, value in self.headers.items()
        )
        self.connection.settimeout(LIFETIME)
        forwarded = ForwardedPort(self.connection, int(wanted), name)
        self.close_connection = True
        try:
            if not forwarded.handshake((request + "\r\n").encode("latin-1")):
                return
            forwarded.start(ports.get(wanted), stray=cluster.portforward_stray_frame)
            while not forwarded.closed.is_set():
                forwarded.receive(self.rfile.read1(65536))
        except OSError:
            pass
        finally:
            forwarded.close()

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
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        message = (
            f'{what} is forbidden: User "{self.caller}" cannot {verb} resource "pods" '
            f'in API group "" {where}'
        )
        self._send(403, status(403, "Forbidden", message))

    def _list(self, namespace: str | None, query: dict[str, list[str]]) -> None:
        """The pods of a namespace (None: of every namespace) that the query selects."""
        if "list" in self.server.cluster.forbidden:
            self._forbidden("list", namespace or "", "pods")
            return
        try:
            items = [
                item
                for item in self.server.cluster.pods
                if namespace in (None, item["metadata"]["namespace"]) and _matches(item, query)
            ]
        except ValueError as exc:
            self._send(400, status(400, "BadRequest", str(exc)))
            return
        self.server.cluster.selectors.append(query.get("labelSelector", [""])[0])
        self._send(200, {"apiVersion": "v1", "kind": "PodList",
                         "metadata": {"resourceVersion": "1"}, "items": items})  # fmt: skip

    def _send(self, code: int, body: dict[str, Any]) -> None:
        send_json(self, code, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cluster: Cluster, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cluster = cluster
        if tls is not None:
            # The handshake happens on the handler's first read, in its own thread: a client
            # that refuses the certificate fails its connection, not the accepting loop.
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up, or refused our certificate: fine.
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)


@contextmanager
def serve_cluster(cluster: Cluster, tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """Serve `cluster` on a port of 127.0.0.1 (HTTPS with `tls`: harness/api_failures.py)."""
    server = _Server(cluster, tls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def write_user_kubeconfig(path: Path, port: int, user: dict[str, Any]) -> Path:
    """A kubeconfig for the stand-in on `port` whose user is `user`: {"token": ...}, {} (no
    credentials), or {"client-certificate-data": ..., "client-key-data": ...}."""
    config = json.loads(write_kubeconfig(path, port).read_text())
    config["users"][0]["user"] = user
    path.write_text(json.dumps(config))
    return path
