"""The agent's HTTP API as a WSGI application: JSON documents, metrics, health.

    /metrics                          Prometheus text format
    /healthz                          alive: no scan has run past the watchdog's limit (503 else)
    /readyz                           a scan has completed and is fresh (503 otherwise)
    /api/v1/pods[?namespace=NS]       PodList
    /api/v1/pods/<namespace>/<name>   PodReport, with network/UTS/IPC details ("-": no namespace)
    /api/v1/namespaces                NamespaceList
    /api/v1/findings[?namespace=NS]   FindingList

Every error is a JSON `Status` document with the matching HTTP code; a bad request never
reaches the snapshot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST

from ..model import Pod, Snapshot
from ..report import PodReport, Status
from ..scanner import NodeReports

LOG = logging.getLogger("nsinspect.http")
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
MAX_QUERY_BYTES = 2048
JSON = "application/json"
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class AgentState(Protocol):
    """What the API needs from the running agent."""

    def latest(self) -> Snapshot | None: ...

    def readiness(self) -> tuple[bool, dict[str, Any]]: ...

    def liveness(self) -> tuple[bool, dict[str, Any]]: ...

    def metrics(self) -> Sequence[bytes]:
        """The exposition in pieces, sent one after the other: joining them would copy the
        snapshot's few MB of text on every scrape."""
        ...

    def pod_report(self, pod: Pod, snapshot: Snapshot) -> PodReport: ...


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def status_document(code: int, message: str) -> dict[str, Any]:
    return Status(code=code, reason=REASONS.get(code, ""), message=message).to_json()


def _query(environ: dict[str, Any], allowed: set[str]) -> dict[str, str]:
    raw = environ.get("QUERY_STRING", "")
    if len(raw) > MAX_QUERY_BYTES:
        raise ApiError(414, f"query string longer than {MAX_QUERY_BYTES} bytes")
    try:
        parsed = parse_qs(raw, keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=16)
    except ValueError as exc:
        raise ApiError(400, f"malformed query string: {exc}") from exc
    unknown = set(parsed) - allowed
    if unknown:
        raise ApiError(400, f"unknown parameters: {', '.join(sorted(unknown))}")
    if any(len(values) > 1 for values in parsed.values()):
        raise ApiError(400, "each parameter may be given once")
    return {key: values[0] for key, values in parsed.items()}


def _segments(environ: dict[str, Any]) -> list[str]:
    """Path segments of the request as sent (before percent-decoding), checked for tricks."""
    raw = environ.get("nsinspect.raw_path") or environ.get("PATH_INFO", "")
    raw_path = raw.split("?", 1)[0]
    lowered = raw_path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in raw_path:
        raise ApiError(400, "encoded slashes are not allowed in the path")
    path = environ.get("PATH_INFO", "")
    segments = path.strip("/").split("/") if path.strip("/") else []
    if any(s in (".", "..") for s in segments) or "//" in path:
        raise ApiError(400, "the path must not contain '.', '..' or empty segments")
    return segments


class AgentApi:
    def __init__(self, state: AgentState) -> None:
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
                raise ApiError(405, "only GET is supported")
            code, content_type, chunks = self._route(environ)
        except ApiError as error:
            code, content_type = error.code, JSON
            chunks = (_json_bytes(status_document(error.code, error.message)),)
        except Exception:  # a bug must cost one request, never the agent
            LOG.exception("request %s failed", environ.get("PATH_INFO"))
            code, content_type = 500, JSON
            chunks = (_json_bytes(status_document(500, "internal error; see the agent's log")),)
        length = sum(len(chunk) for chunk in chunks)
        headers = [("Content-Type", content_type), ("Content-Length", str(length))]
        if code == 405:
            headers.append(("Allow", "GET, HEAD"))
        start_response(f"{code} {REASONS.get(code, '')}", headers)
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else list(chunks)

    def _route(self, environ: dict[str, Any]) -> tuple[int, str, Sequence[bytes]]:
        segments = _segments(environ)
        if segments == ["metrics"]:
            _query(environ, set())
            return 200, CONTENT_TYPE_LATEST, self.state.metrics()
        if segments == ["healthz"]:
            _query(environ, set())
            alive, detail = self.state.liveness()
            return (200 if alive else 503), JSON, (_json_bytes(detail),)
        if segments == ["readyz"]:
            _query(environ, set())
            ready, detail = self.state.readiness()
            return (200 if ready else 503), JSON, (_json_bytes({"ready": ready, **detail}),)
        if segments[:2] == ["api", "v1"] and len(segments) > 2:
            return 200, JSON, (_json_bytes(self._api(segments[2:], environ)),)
        raise ApiError(404, f"no such path: /{'/'.join(segments)}")

    def _snapshot(self) -> Snapshot:
        snapshot = self.state.latest()
        if snapshot is None:
            raise ApiError(503, "no scan has completed yet")
        return snapshot

    def _api(self, segments: list[str], environ: dict[str, Any]) -> dict[str, Any]:
        resource = segments[0]
        if resource == "pods" and len(segments) == 1:
            namespace = _query(environ, {"namespace"}).get("namespace")
            return NodeReports(self._snapshot()).pod_list(namespace).to_json()
        if resource == "pods" and len(segments) == 3:
            _query(environ, set())
            namespace = "" if segments[1] == "-" else segments[1]
            snapshot = self._snapshot()
            pod = NodeReports(snapshot).find(namespace, segments[2])
            if pod is not None:
                return self.state.pod_report(pod, snapshot).to_json()
            where = f'namespace "{namespace}"' if namespace else "no namespace"
            raise ApiError(404, f'pod "{segments[2]}" not found in {where} on node {snapshot.node}')
        if resource == "namespaces" and len(segments) == 1:
            _query(environ, set())
            return NodeReports(self._snapshot()).namespace_list().to_json()
        if resource == "findings" and len(segments) == 1:
            namespace = _query(environ, {"namespace"}).get("namespace")
            return NodeReports(self._snapshot()).finding_list(namespace).to_json()
        raise ApiError(404, f"no such path: /api/v1/{'/'.join(segments)}")


def _json_bytes(document: dict[str, Any]) -> bytes:
    """One serialisation, one write: never a stream of small tokens."""
    return json.dumps(document, separators=(",", ":")).encode()
