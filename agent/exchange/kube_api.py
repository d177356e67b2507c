"""The few calls the agent makes to the Kubernetes API, on the standard library.

The scanner lists and watches the pods of its node; the server posts TokenReviews and
SubjectAccessReviews. Both are JSON over HTTPS with a bearer token, and the official client costs
~43 MiB of resident memory to import (33 → 76 MiB for the whole agent, measured), more than the
server's whole budget and most of the scanner's. So the agent speaks these calls itself and uses
the official client only where it earns that cost: resolving a kubeconfig (exec plugins, OIDC)
off-cluster, once, into `ApiCredentials`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REREAD_SECONDS = 60.0  # bound service account tokens rotate; kubelet rewrites the file
MAX_RESPONSE_BYTES = 64 << 20  # a pod list of a full node is a few MB
MAX_LINE_BYTES = 4 << 20  # one watch event


class KubeApiError(Exception):
    """A call that failed: `status` 0 when no HTTP answer came (refused, DNS, TLS, timeout)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    server: str  # https://host:port
    token: str | None = None
    ca_pem: str | None = None
    cert_pem: str | None = None
    key_pem: str | None = None
    verify: bool = True
    token_file: str | None = None  # re-read now and then (in-cluster)

    @classmethod
    def from_json(cls, document: object) -> ApiCredentials:
        """The object `nsinspect agent` hands its server (server_child.kube_credentials)."""
        if not isinstance(document, dict) or not isinstance(document.get("server"), str):
            raise ValueError("API credentials need a 'server' URL")

        def text(key: str) -> str | None:
            value = document.get(key)
            return value if isinstance(value, str) and value else None

        return cls(
            server=document["server"],
            token=text("token"),
            ca_pem=text("ca_pem"),
            cert_pem=text("cert_pem"),
            key_pem=text("key_pem"),
            verify=document.get("verify") is not False,
        )

    @classmethod
    def in_cluster(cls, root: Path = SERVICE_ACCOUNT) -> ApiCredentials:
        """The pod's service account, as the official client's load_incluster_config reads it."""
        host, port = (
            os.environ.get("KUBERNETES_SERVICE_HOST"),
            os.environ.get("KUBERNETES_SERVICE_PORT"),
        )
        if not host or not port:
            raise ValueError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set")
        try:
            ca_pem = (root / "ca.crt").read_text()
        except OSError as exc:
            raise ValueError(f"the service account's CA cannot be read: {exc.strerror}") from exc
        server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
        return cls(server=server, ca_pem=ca_pem, token_file=str(root / "token"))


@dataclass
class KubeApi:
    """One API server; each call opens its own connection (the calls are rare, a watch is long)."""

    credentials: ApiCredentials
    _context: ssl.SSLContext | None = field(default=None, init=False)
    _token: str | None = field(default=None, init=False)
    _token_read: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def post_json(self, path: str, body: object, timeout: float) -> Any:
        response, connection = self._open("POST", path, json.dumps(body).encode(), timeout)
        with contextlib.closing(connection):
            return self._json(response, response.read(MAX_RESPONSE_BYTES + 1))

    def get_json(self, path: str, query: dict[str, str], timeout: float) -> Any:
        response, connection = self._open("GET", _with_query(path, query), None, timeout)
        with contextlib.closing(connection):
            return self._json(response, response.read(MAX_RESPONSE_BYTES + 1))

    def watch(self, path: str, query: dict[str, str], timeout: float) -> Iterator[Any]:
        """The events of a watch, one JSON object per line, until the server ends it."""
        query = {**query, "watch": "true"}
        response, connection = self._open("GET", _with_query(path, query), None, timeout)
        with contextlib.closing(connection):
            if response.status != 200:
                self._json(response, response.read(MAX_RESPONSE_BYTES + 1))
            while line := response.readline(MAX_LINE_BYTES):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError as exc:
                        raise KubeApiError(0, f"a watch event is not JSON: {exc}") from exc

    def _open(
        self, method: str, path: str, body: bytes | None, timeout: float
    ) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
        url = urlsplit(self.credentials.server)
        headers = {"Accept": "application/json", "User-Agent": "nsinspect"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token := self._bearer():
            headers["Authorization"] = f"Bearer {token}"
        connection: http.client.HTTPConnection
        try:
            if url.scheme == "https":
                connection = http.client.HTTPSConnection(
                    url.hostname or "", url.port or 443, timeout=timeout, context=self._ssl()
                )
            else:
                connection = http.client.HTTPConnection(
                    url.hostname or "", url.port or 80, timeout=timeout
                )
        except (OSError, ssl.SSLError) as exc:
            raise KubeApiError(0, f"the API credentials cannot be used: {exc}") from exc
        base = url.path.rstrip("/")
        try:
            connection.request(method, base + path, body=body, headers=headers)
            return connection.getresponse(), connection
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise KubeApiError(0, _unreachable(self.credentials.server, exc)) from exc

    @staticmethod
    def _json(response: http.client.HTTPResponse, data: bytes) -> Any:
        if len(data) > MAX_RESPONSE_BYTES:
            raise KubeApiError(response.status, "the API server's answer is too large")
        try:
            document = json.loads(data) if data else {}
        except ValueError:
            document = {}
        if response.status >= 300:
            message = document.get("message") if isinstance(document, dict) else None
            raise KubeApiError(response.status, message or response.reason or "error")
        return document

    def _bearer(self) -> str | None:
        if self.credentials.token_file is None:
            return self.credentials.token
        with self._lock:
            if self._token is None or time.monotonic() - self._token_read > TOKEN_REREAD_SECONDS:
                try:
                    self._token = Path(self.credentials.token_file).read_text().strip()
                except OSError as exc:
                    raise KubeApiError(
                        0, f"the service account token cannot be read: {exc.strerror}"
                    ) from exc
                self._token_read = time.monotonic()
            return self._token

    def _ssl(self) -> ssl.SSLContext:
        if self._context is None:
            context = ssl.create_default_context(cadata=self.credentials.ca_pem or None)
            if not self.credentials.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if self.credentials.cert_pem and self.credentials.key_pem:
                _load_client_certificate(
                    context, self.credentials.cert_pem, self.credentials.key_pem
                )
            self._context = context
        return self._context


def _load_client_certificate(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """ssl loads a certificate only from a file: a private one, removed at once."""
    with tempfile.TemporaryDirectory(prefix="nsinspect-cert-") as directory:
        path = Path(directory) / "client.pem"
        path.touch(mode=0o600)
        path.write_text(cert_pem.rstrip("\n") + "\n" + key_pem)
        context.load_cert_chain(str(path))


def _with_query(path: str, query: dict[str, str]) -> str:
    return f"{path}?{urlencode(query)}" if query else path


def _unreachable(server: str, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"the API server {server} did not answer in time"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with the API server {server} failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return f"the connection to the API server {server} was refused"
    return f"the API server {server} cannot be reached: {type(exc).__name__}: {str(exc)[:200]}"
