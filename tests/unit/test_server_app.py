"""The server's application called as WSGI, over a results directory on disk, without sockets:
routing per listener, the documents served from the files, filtered lists, the stale mark, the
error documents in the report model's shape, and the metric lines it adds."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from waitress.buffers import ReadOnlyFileBasedBuffer

from harness.server_results import ResultsTree, written_tree
from nsinspect.agent.exchange import layout
from nsinspect.agent.report import Status
from nsinspect.agent.server.access import Asker
from nsinspect.agent.server.answers import METRICS_TYPE, ResultsFile
from nsinspect.agent.server.app import Policy, ServerApp
from nsinspect.agent.server.connections import ConnectionGuard, Limits
from nsinspect.agent.server.request_checks import REASONS, status_document
from nsinspect.agent.server.results import Results

PODS = {"b": ["b1"], "a": ["a2", "a1"], "": ["loose"], "c\udcfe": ["odd"]}
METRICS_PORT, API_PORT = "9977", "9978"


class Answered:
    def __init__(self, app: ServerApp, path: str, port: str, **environ: Any) -> None:
        raw_path, _, query = path.partition("?")
        base = {"REQUEST_METHOD": "GET", "PATH_INFO": _wsgi_path(raw_path),
                "QUERY_STRING": query, "REQUEST_URI": path, "SERVER_PORT": port,
                "wsgi.file_wrapper": ReadOnlyFileBasedBuffer}  # fmt: skip
        self.status = ""
        self.headers: dict[str, str] = {}
        body = app({**base, **environ}, self._start)
        self.body = b"".join(_read(body))

    def _start(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers = status, dict(headers)

    @property
    def code(self) -> int:
        return int(self.status.split()[0])

    def json(self) -> Any:
        return json.loads(self.body)


def _wsgi_path(raw: str) -> str:
    return unquote_to_bytes(raw).decode("latin-1")


def _read(body: Any) -> Iterator[bytes]:
    if isinstance(body, ReadOnlyFileBasedBuffer):
        body.prepare()
        while chunk := body.get(7, skip=True):  # small reads cross the file/tail seam
            yield chunk
        body.file.close()
    else:
        yield from body


class Reviews:
    """AccessReviews' answers for one user allowed `namespaces` ("" = every namespace)."""

    def __init__(self, namespaces: set[str]) -> None:
        self.namespaces = namespaces
        self.asked: list[tuple[str, str | None]] = []

    def authenticate(self, token: str) -> Asker:
        return Asker(username=token, uid="", groups=(), extra=())

    def may_get_pods(self, asker: Asker, namespace: str, name: str | None = None) -> bool:
        self.asked.append((namespace, name))
        return "" in self.namespaces or (namespace != "" and namespace in self.namespaces)

    def may_get_path(self, asker: Asker, path: str) -> bool:
        return False


@pytest.fixture
def tree() -> Iterator[ResultsTree]:
    with written_tree(PODS) as written:
        yield written


def make_app(tree: ResultsTree, reviews: Reviews | None = None, **policy: Any) -> ServerApp:
    app = ServerApp(Results(tree.dir), Policy(**policy), ConnectionGuard(Limits()), reviews)  # type: ignore[arg-type]
    app.api_ports = frozenset({API_PORT})
    return app


def current(tree: ResultsTree, *parts: str) -> bytes:
    return (tree.dir / layout.CURRENT).joinpath(*parts).read_bytes()


def test_status_documents_have_the_report_models_shape() -> None:
    for code in REASONS:
        model = Status(code=code, reason=REASONS[code], message="m").to_json()
        assert status_document(code, "m") == model
    assert METRICS_TYPE == CONTENT_TYPE_LATEST


def test_results_file_reads_the_file_then_the_tail(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    handle = ResultsFile(os.open(path, os.O_RDONLY), b"TAIL")
    assert handle.seek(0, io.SEEK_END) == 14
    handle.seek(8)
    assert handle.read(4) == b"89TA" and handle.tell() == 12
    assert handle.read() == b"IL" and handle.read(3) == b""
    handle.seek(0)
    assert handle.read(100) == b"0123456789TAIL"
    handle.close()


def test_each_listener_answers_only_its_paths(tree: ResultsTree) -> None:
    app = make_app(tree)
    assert Answered(app, "/api/v1/pods", METRICS_PORT).code == 404
    assert Answered(app, "/metrics", API_PORT).code == 404
    assert Answered(app, "/api/v1/pods", API_PORT).body == current(tree, layout.PODS)
    for probe in ("/healthz", "/readyz", "/livez"):
        assert Answered(app, probe, METRICS_PORT).code == 200
        assert Answered(app, probe, API_PORT).code == 200
    head = Answered(app, "/api/v1/findings", API_PORT, REQUEST_METHOD="HEAD")
    assert head.body == b"" and head.headers["Content-Length"] == str(
        len(current(tree, layout.FINDINGS))
    )


def test_metrics_are_the_scanners_then_the_servers_and_parse(tree: ResultsTree) -> None:
    tree.heartbeat(ended_ago=1.0, running_for=2.0, step='runtimes "x"\n')
    answer = Answered(make_app(tree), "/metrics", METRICS_PORT)
    assert answer.headers["Content-Type"] == METRICS_TYPE
    assert answer.body.startswith(current(tree, layout.METRICS))
    families = {f.name: f for f in text_string_to_metric_families(answer.body.decode())}
    running = families["nsinspect_scan_running_seconds"].samples
    assert [s.labels["step"] for s in running] == ['runtimes "x"\n']
    assert families["nsinspect_scan_stuck"].samples[0].value == 0
    assert 0.5 < families["nsinspect_scan_age_seconds"].samples[0].value < 5
    rejected = families["nsinspect_server_rejected_connections"].samples
    assert {s.labels["reason"] for s in rejected} == {
        "per_client", "header_too_large", "request_timeout", "idle_timeout", "at_capacity",
    }  # fmt: skip


def test_a_filtered_list_is_the_allowed_namespaces_in_the_scanners_envelope(
    tree: ResultsTree,
) -> None:
    reviews = Reviews({"a", "c\udcfe"})
    app = make_app(tree, reviews)
    token = {"HTTP_AUTHORIZATION": "Bearer alice"}
    pods = Answered(app, "/api/v1/pods", API_PORT, **token).json()
    assert [i["pod"]["name"] for i in pods["items"]] == ["a2", "a1", "odd"]  # scanner's order
    empty = json.loads(current(tree, layout.PODS_DIR, layout.EMPTY))
    assert {k: v for k, v in pods.items() if k != "items"} == {
        k: v for k, v in empty.items() if k != "items"
    }
    assert ("", None) in reviews.asked and ("", "loose") not in reviews.asked
    forbidden = Answered(app, "/api/v1/pods?namespace=b", API_PORT, **token)
    assert (forbidden.code, forbidden.json()["message"]) == (
        403, 'forbidden: you cannot get pods in namespace "b"',
    )  # fmt: skip
    assert Answered(app, "/api/v1/pods/-/loose", API_PORT, **token).code == 403
    assert Answered(app, "/api/v1/namespaces", API_PORT, **token).code == 403
    odd = Answered(app, "/api/v1/findings?namespace=c%FE", API_PORT, **token)
    assert odd.code == 200 and len(odd.json()["items"]) == 1


def test_without_credentials_a_token_changes_nothing(tree: ResultsTree) -> None:
    app = make_app(tree)
    answer = Answered(app, "/api/v1/pods", API_PORT, HTTP_AUTHORIZATION="Bearer x")
    assert answer.body == current(tree, layout.PODS)
    required = make_app(tree, api_token_required=True)
    refused = Answered(required, "/api/v1/pods", API_PORT)
    assert refused.code == 401 and "client certificate" in refused.json()["message"]
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="nsinspect"'


def test_a_stale_generation_is_marked_in_every_list(tree: ResultsTree) -> None:
    tree.errors = [{"stage": "procfs", "reason": "EACCES", "count": 3}]
    tree.write()
    tree.heartbeat(ended_ago=100.0, interval=10.0, stuck_after=1000.0)
    app = make_app(tree, Reviews({"a"}))
    asked = [("/api/v1/pods", None), ("/api/v1/findings", "t"),
             ("/api/v1/namespaces", None), ("/api/v1/pods?namespace=a", None)]  # fmt: skip
    for path, token in asked:
        extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        answer = Answered(app, path, API_PORT, **extra)
        assert answer.code == 200, path
        errors = answer.json()["errors"]
        assert errors[-1]["stage"] == "agent" and errors[-1]["reason"] == "stale", path
        assert "has not completed a scan for 100 s" in errors[-1]["message"]
        assert answer.headers["X-Nsinspect-Stale"] == "100"
        if path != "/api/v1/namespaces":
            assert errors[0] == tree.errors[0], path
    assert Answered(app, "/readyz", METRICS_PORT).code == 503
    assert Answered(app, "/healthz", METRICS_PORT).code == 200


def test_no_generation_yet(tmp_path: Path) -> None:
    tree = ResultsTree(tmp_path, {})
    tree.heartbeat(ended_ago=None, running_for=1.0, step="procfs")
    app = make_app(tree)
    pods = Answered(app, "/api/v1/pods", API_PORT)
    assert pods.code == 503 and pods.json()["message"] == "no scan has completed yet"
    metrics = Answered(app, "/metrics", METRICS_PORT)
    assert metrics.code == 200 and b'step="procfs"' in metrics.body
    assert Answered(app, "/readyz", METRICS_PORT).json()["reason"] == "no scan has completed yet"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/pods/%2e%2e/x", 400),
        ("/api/v1/pods/a%2fb/c", 400),
        ("/api/v1/pods/a%5cb/c", 400),
        ("/api/v1//pods", 400),
        ("/api/v1/pods?namespace=", 200),
        ("/api/v1/pods?namespace", 400),
        ("/api/v1/pods?namespace=a&x=1", 400),
        ("/api/v1/pods?" + "n" * 2049, 414),
        ("/api/v1/pods?%zz", 400),
        ("/api/v1/pods/a", 404),
        ("/healthz?x=1", 400),
    ],
)
def test_request_checks(tree: ResultsTree, path: str, code: int) -> None:
    answer = Answered(make_app(tree), path, API_PORT)
    assert answer.code == code, answer.body
    assert answer.headers["Content-Type"] == "application/json"


def test_methods_other_than_get_and_head(tree: ResultsTree) -> None:
    answer = Answered(make_app(tree), "/api/v1/pods", API_PORT, REQUEST_METHOD="DELETE")
    assert answer.code == 405 and answer.headers["Allow"] == "GET, HEAD"
