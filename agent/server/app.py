"""The server's WSGI application. Which listener a request came in on decides what it may ask:

    metrics listener (pod IP, 9977)   /metrics, /healthz, /readyz, /livez
    API listener (127.0.0.1, 9978)    /api/v1/pods[?namespace=NS], /api/v1/pods/<ns>/<name>
                                      ("-": no namespace), /api/v1/namespaces,
                                      /api/v1/findings[?namespace=NS]; /healthz, /readyz, /livez

Everything is read from the scanner's results directory; a pod's details are asked of the scanner
on its unix socket. With a bearer token, the asker sees only namespaces where RBAC lets them get
pods. Every error is a JSON `Status` document.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exchange import layout, metrics_gzip
from ..exchange.detail_protocol import (
    BadDetailRequestError,
    DetailProtocolError,
    ScannerNotRunning,
    ScannerTimeout,
    ask_detail,
)
from .access import AccessReviews, Asker, bearer_token
from .answers import (
    FILE_BLOCK,
    JSON,
    METRICS_TYPE,
    Answer,
    ResultsFile,
    gzip_metrics_file,
    open_results_file,
)
from .connections import ConnectionGuard
from .request_checks import REASONS, ApiError, json_bytes, query, segments, status_bytes
from .results import Generation, Results, StaleMark, composed_list, marked_document
from .server_metrics import server_lines

LOG = logging.getLogger("nsinspect.server")
StartResponse = Callable[..., Any]
HEALTH_PATHS = frozenset({"healthz", "readyz", "livez"})
NAMESPACE = frozenset({"namespace"})
TOKEN_REQUIRED = (
    "a bearer token is required: this agent checks who asks (TokenReview) and shows only "
    "namespaces where they may get pods; use a kubeconfig whose user has a token (service "
    "account, OIDC, exec plugin) — a client certificate cannot be checked by the agent"
)
NAMESPACES_FORBIDDEN = "forbidden: the node's namespace list needs get pods in every namespace"
VARY = ("Vary", "Accept-Encoding")
GZIP = ("Content-Encoding", "gzip")


@dataclass
class Policy:
    metrics_auth: bool = False  # /metrics needs a token allowed to get the path
    api_token_required: bool = False  # the API answers no request without a token
    detail_timeout: float = 15.0  # seconds the scanner has to answer a pod's details
    detail_in_flight: int = 2  # pods' details asked at once (each may take the scanner seconds)


class ServerApp:
    def __init__(
        self,
        results: Results,
        policy: Policy,
        guard: ConnectionGuard,
        reviews: AccessReviews | None,
    ) -> None:
        self.results = results
        self.policy = policy
        self.guard = guard
        self.reviews = reviews
        self.api_ports: frozenset[str] = frozenset()  # SERVER_PORT values of the API listener
        self._details = threading.BoundedSemaphore(policy.detail_in_flight)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
                raise ApiError(405, "only GET is supported")
            answer = self._route(environ)
        except ApiError as error:
            answer = Answer(error.code, JSON, status_bytes(error.code, error.message))
        except Exception:  # a bug must cost one request, never the server
            LOG.exception("request %r failed", environ.get("PATH_INFO"))
            answer = Answer(500, JSON, status_bytes(500, "internal error; see the server's log"))
        return _respond(environ, start_response, answer)

    def _route(self, environ: dict[str, Any]) -> Answer:
        parts = segments(environ)
        on_api = str(environ.get("SERVER_PORT")) in self.api_ports
        if len(parts) == 1 and parts[0] in HEALTH_PATHS:
            query(environ)
            return self._health(parts[0])
        if parts == ["metrics"] and not on_api:
            query(environ)
            return self._metrics(environ)
        if on_api and parts[:2] == ["api", "v1"] and len(parts) > 2:
            return self._api(parts[2:], environ)
        raise ApiError(404, f"no such path: /{'/'.join(parts)}")

    def _health(self, probe: str) -> Answer:
        if probe == "livez":
            return Answer(200, JSON, json_bytes({"status": "ok"}))
        freshness = self.results.freshness()
        view = freshness.view
        if view is None:
            reason = f"no heartbeat from the scanner: {freshness.heartbeat_problem}"
            body: dict[str, Any] = (
                {"status": "stale", "reason": reason}
                if probe == "healthz"
                else {"ready": False, "reason": reason}
            )
            return Answer(503, JSON, json_bytes(body))
        if probe == "healthz":
            return Answer(200 if view.healthy else 503, JSON, json_bytes(view.health_document()))
        return Answer(200 if view.ready else 503, JSON, json_bytes(view.readiness_document()))

    def _metrics(self, environ: dict[str, Any]) -> Answer:
        if self.policy.metrics_auth:
            asker = self._authenticated(environ, required="a bearer token is required for /metrics")
            assert self.reviews is not None and asker is not None  # main() refuses otherwise
            if not self.reviews.may_get_path(asker, "/metrics"):
                raise ApiError(403, "forbidden: you cannot get /metrics")
        tail = server_lines(self.results.freshness().view, self.guard.rejected())
        gzip = metrics_gzip.accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        try:
            generation = self.results.generation()
        except ApiError:  # no scan yet: the server's lines alone
            if gzip:
                return Answer(200, METRICS_TYPE, metrics_gzip.compress(tail), headers=[VARY, GZIP])
            return Answer(200, METRICS_TYPE, tail, headers=[VARY])
        if gzip:  # the scanner compressed its part; the server compresses only its lines
            compressed = gzip_metrics_file(generation.document(layout.METRICS_GZIP), tail)
            if compressed is not None:
                return Answer(200, METRICS_TYPE, file=compressed, headers=[VARY, GZIP])
        fd = open_results_file(generation.document(layout.METRICS))
        return Answer(200, METRICS_TYPE, file=ResultsFile(fd, tail), headers=[VARY])

    def _authenticated(self, environ: dict[str, Any], required: str | None) -> Asker | None:
        """The asker; None when no token came and none is `required` (then: everything)."""
        token = bearer_token(environ)
        if token is None:
            if required:
                raise ApiError(401, required)
            return None
        if self.reviews is None:
            return None  # no credentials to check it with, and none required: as no token
        return self.reviews.authenticate(token)

    def _may_get_pods(self, asker: Asker | None, namespace: str, name: str | None = None) -> bool:
        return (
            asker is None
            or self.reviews is None
            or self.reviews.may_get_pods(asker, namespace, name)
        )

    def _api(self, parts: list[str], environ: dict[str, Any]) -> Answer:
        resource = parts[0]
        known = (resource in ("pods", "findings") and len(parts) == 1) or (
            (resource == "pods" and len(parts) == 3)
            or (resource == "namespaces" and len(parts) == 1)
        )
        if not known:
            raise ApiError(404, f"no such path: /api/v1/{'/'.join(parts)}")
        params = query(
            environ, NAMESPACE if len(parts) == 1 and resource != "namespaces" else frozenset()
        )
        required = TOKEN_REQUIRED if self.policy.api_token_required else None
        asker = self._authenticated(environ, required)
        if len(parts) == 3:
            return self._pod_details("" if parts[1] == "-" else parts[1], parts[2], asker)
        if resource == "namespaces":
            if not self._may_get_pods(asker, ""):
                raise ApiError(403, NAMESPACES_FORBIDDEN)
            generation = self.results.generation()
            return self._document(generation, generation.document(layout.NAMESPACES))
        documents_dir = layout.PODS_DIR if resource == "pods" else layout.FINDINGS_DIR
        return self._list(documents_dir, params.get("namespace"), asker)

    def _list(self, documents_dir: str, namespace: str | None, asker: Asker | None) -> Answer:
        if namespace is not None:
            if not self._may_get_pods(asker, namespace):
                raise ApiError(403, _forbidden(namespace))
            generation = self.results.generation()
            return self._document(
                generation, generation.namespace_document(documents_dir, namespace)
            )
        generation = self.results.generation()
        whole = layout.PODS if documents_dir == layout.PODS_DIR else layout.FINDINGS
        if self._may_get_pods(asker, ""):
            return self._document(generation, generation.document(whole))
        assert asker is not None
        visible = [
            ns
            for ns in generation.index.namespaces
            if ns != "" and self._may_get_pods(asker, ns)  # "": only with every namespace
        ]
        mark = self.results.freshness().stale_mark(generation)
        answer = Answer(200, JSON, stream=composed_list(generation, documents_dir, visible, mark))
        return _with_stale_header(answer, mark)

    def _document(self, generation: Generation, path: Path) -> Answer:
        """A whole document of the generation: from its file, or edited when stale."""
        mark = self.results.freshness().stale_mark(generation)
        if mark is None:
            return Answer(200, JSON, file=ResultsFile(open_results_file(path)))
        return _with_stale_header(Answer(200, JSON, marked_document(path, mark)), mark)

    def _pod_details(self, namespace: str, name: str, asker: Asker | None) -> Answer:
        if not self._may_get_pods(asker, namespace, name):
            raise ApiError(403, _forbidden(namespace))
        if not self._details.acquire(blocking=False):
            raise ApiError(
                503, "the server is waiting on the scanner for other pods' details; try again"
            )
        try:
            code, body = ask_detail(self.results.dir, namespace, name, self.policy.detail_timeout)
        except ScannerNotRunning as exc:
            raise ApiError(503, str(exc)) from exc
        except ScannerTimeout as exc:
            raise ApiError(504, str(exc)) from exc
        except DetailProtocolError as exc:
            raise ApiError(502, f"the scanner's answer is unusable: {exc}") from exc
        except BadDetailRequestError as exc:
            raise ApiError(400, str(exc)) from exc
        finally:
            self._details.release()
        return Answer(code, JSON, body)


def _forbidden(namespace: str) -> str:
    if namespace == "":
        return "forbidden: pods without a namespace need get pods in every namespace"
    return f'forbidden: you cannot get pods in namespace "{namespace}"'


def _with_stale_header(answer: Answer, mark: StaleMark | None) -> Answer:
    if mark is not None:
        answer.headers.append(("X-Nsinspect-Stale", f"{mark.age:.0f}"))
    return answer


def _respond(
    environ: dict[str, Any], start_response: StartResponse, answer: Answer
) -> Iterable[bytes]:
    headers = [("Content-Type", answer.content_type), *answer.headers]
    if answer.code == 405:
        headers.append(("Allow", "GET, HEAD"))
    if answer.code == 401:
        headers.append(("WWW-Authenticate", 'Bearer realm="nsinspect"'))
    status = f"{answer.code} {REASONS.get(answer.code, '')}"
    head = environ.get("REQUEST_METHOD") == "HEAD"
    if answer.stream is not None:
        start_response(status, headers)
        return [b""] if head else answer.stream
    if answer.file is not None:
        size = answer.file.seek(0, 2)
        answer.file.seek(0)
        start_response(status, [*headers, ("Content-Length", str(size))])
        if head:
            answer.file.close()
            return [b""]
        return environ["wsgi.file_wrapper"](answer.file, FILE_BLOCK)  # type: ignore[no-any-return]
    start_response(status, [*headers, ("Content-Length", str(len(answer.body)))])
    if head:
        return [b""]
    # In writes of FILE_BLOCK: one write over waitress's outbuf_overflow would spill the
    # answer to a temporary file (a stale-marked document of a large node can be that big).
    return [answer.body[i : i + FILE_BLOCK] for i in range(0, len(answer.body), FILE_BLOCK)]
