"""Who may see what, against the stand-in API server's TokenReview and SubjectAccessReview: the
real server (uid 65534) gets the API's credentials on a pipe, as `nsinspect agent` passes them,
and answers each token with what RBAC lets its user get."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster_standin import Cluster, serve_cluster
from harness.server_results import (
    ResultsTree,
    ServerProcess,
    start_server,
    written_tree,
)
from nsinspect.agent.exchange import layout

pytestmark = [pytest.mark.root]

PODS = {"alpha": ["a1", "a2"], "beta": ["b1"], "gamma": ["g1"], "": ["loose"]}
TOKENS = {"t-alice": "alice", "t-root": "cluster-admin", "t-prom": "prometheus", "t-bob": "bob"}
RBAC = {"alice": {"alpha", "gamma"}, "cluster-admin": {"*"}}
NON_RESOURCE = {"prometheus": {"/metrics"}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Cluster, int]]:
    standin = Cluster(tokens=dict(TOKENS), rbac=dict(RBAC), non_resource=dict(NON_RESOURCE))
    standin.tokens["t-server"] = "system:serviceaccount:nsinspect:nsinspect"
    standin.require_auth = True  # the server's own reviews carry its token
    with serve_cluster(standin) as port:
        yield standin, port


@pytest.fixture(scope="module")
def tree() -> Iterator[ResultsTree]:
    with written_tree(PODS) as results:
        yield results


def credentials(port: int) -> dict[str, object]:
    return {"server": f"http://127.0.0.1:{port}", "token": "t-server", "ca_pem": None,
            "cert_pem": None, "key_pem": None, "verify": True}  # fmt: skip


@pytest.fixture(scope="module")
def server(
    tree: ResultsTree, cluster: tuple[Cluster, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    running = start_server(tree.dir, tmp_path_factory.mktemp("log"), "--metrics-auth",
                           credentials=credentials(cluster[1]))  # fmt: skip
    running.wait_serving()
    yield running
    running.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def names(document: dict[str, object]) -> list[str]:
    items = document["items"]
    assert isinstance(items, list)
    return [f"{i['pod']['namespace']}/{i['pod']['name']}" for i in items]


def test_metrics_need_a_token_allowed_to_get_the_path(server: ServerProcess) -> None:
    none = server.get("/metrics")
    assert (
        none.status == 401 and none.json()["message"] == "a bearer token is required for /metrics"
    )
    wrong = server.get("/metrics", headers=bearer("t-nobody"))
    assert wrong.status == 401
    assert wrong.json()["message"].startswith("the token was not accepted: ")
    denied = server.get("/metrics", headers=bearer("t-alice"))
    assert denied.status == 403 and denied.json()["message"] == "forbidden: you cannot get /metrics"
    allowed = server.get("/metrics", headers=bearer("t-prom"))
    assert allowed.status == 200 and b"nsinspect_pods 5\n" in allowed.body
    assert server.get("/healthz").status == 200  # probes need no token


def test_a_token_sees_only_namespaces_where_rbac_lets_it_get_pods(
    server: ServerProcess, tree: ResultsTree
) -> None:
    alice = bearer("t-alice")
    assert names(server.get("/api/v1/pods?namespace=alpha", api=True, headers=alice).json()) == [
        "alpha/a1",
        "alpha/a2",
    ]
    beta = server.get("/api/v1/pods?namespace=beta", api=True, headers=alice)
    assert beta.status == 403
    assert beta.json()["message"] == 'forbidden: you cannot get pods in namespace "beta"'
    detail = server.get("/api/v1/pods/beta/b1", api=True, headers=alice)
    assert detail.json()["message"] == 'forbidden: you cannot get pods in namespace "beta"'
    assert server.get("/api/v1/pods/-/loose", api=True, headers=alice).status == 403
    namespaces = server.get("/api/v1/namespaces", api=True, headers=alice)
    assert namespaces.status == 403 and "every namespace" in namespaces.json()["message"]

    listed = server.get("/api/v1/pods", api=True, headers=alice).json()
    assert names(listed) == ["alpha/a1", "alpha/a2", "gamma/g1"]
    envelope = json.loads((tree.dir / layout.CURRENT / layout.PODS).read_bytes())
    assert {k: v for k, v in listed.items() if k != "items"} == {
        k: v for k, v in envelope.items() if k != "items"
    }
    findings = server.get("/api/v1/findings", api=True, headers=alice).json()
    assert sorted({f["pod"].split("/")[0] for f in findings["items"]}) == ["alpha", "gamma"]


def test_every_namespace_gets_the_whole_documents(server: ServerProcess, tree: ResultsTree) -> None:
    admin = bearer("t-root")
    whole = (tree.dir / layout.CURRENT / layout.PODS).read_bytes()
    assert server.get("/api/v1/pods", api=True, headers=admin).body == whole
    assert server.get("/api/v1/namespaces", api=True, headers=admin).status == 200
    findings = server.get("/api/v1/findings", api=True, headers=admin).json()
    assert any(f["pod"] == "" for f in findings["items"])  # about no pod: only cluster-wide


def test_no_token_on_an_optional_api_sees_everything(server: ServerProcess) -> None:
    assert len(server.get("/api/v1/pods", api=True).json()["items"]) == 5
    refused = server.get("/api/v1/pods", api=True, headers=bearer("t-forged"))
    assert refused.status == 401


def test_a_bearer_of_no_rights_sees_an_empty_list(server: ServerProcess) -> None:
    listed = server.get("/api/v1/pods", api=True, headers=bearer("t-bob"))
    assert listed.status == 200 and listed.json()["items"] == []


def test_answers_are_cached(server: ServerProcess, cluster: tuple[Cluster, int]) -> None:
    standin, _ = cluster
    server.get("/api/v1/pods?namespace=gamma", api=True, headers=bearer("t-alice"))
    before = len(standin.reviews)
    for _ in range(5):
        server.get("/api/v1/pods?namespace=gamma", api=True, headers=bearer("t-alice"))
        server.get("/api/v1/pods", api=True, headers=bearer("t-forged"))
    assert len(standin.reviews) == before


def test_a_required_token_and_an_unreachable_api(tree: ResultsTree, tmp_path: Path) -> None:
    with serve_cluster(Cluster(tokens=dict(TOKENS), rbac=dict(RBAC))) as port:
        running = start_server(
            tree.dir, tmp_path, "--api-auth", "required", credentials=credentials(port)
        )
        running.wait_serving()
        none = running.get("/api/v1/pods", api=True)
        alice = running.get("/api/v1/pods?namespace=alpha", api=True, headers=bearer("t-alice"))
        probe = running.get("/healthz", api=True)
    try:  # the stand-in is gone now: a fresh token cannot be checked
        gone = running.get("/api/v1/pods", api=True, headers=bearer("t-root"))
    finally:
        running.stop()
    assert none.status == 401
    assert none.json()["message"].startswith("a bearer token is required: this agent")
    assert "a client certificate cannot be checked" in none.json()["message"]
    assert alice.status == 200 and probe.status == 200  # probes need no token
    assert gone.status == 503
    assert gone.json()["message"].startswith("cannot check access with the Kubernetes API")
    assert "Traceback" not in running.log()


def test_a_reader_that_stops_reading_does_not_hold_the_server(
    cluster: tuple[Cluster, int], tmp_path: Path
) -> None:
    """A filtered list is composed as it is sent; a client that reads none of it would block the
    writing thread for good. With one thread, /healthz would wait behind it: the channel is
    closed after the idle timeout instead."""
    big = {"alpha": [f"p{i:05d}-" + "x" * 1000 for i in range(8000)], "beta": ["b1"]}
    with written_tree(big) as tree:
        running = start_server(tree.dir, tmp_path, "--threads", "1", "--idle-timeout", "2",
                               credentials=credentials(cluster[1]))  # fmt: skip
        try:
            running.wait_serving()
            stalled = socket.socket()
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(("127.0.0.1", running.api_port))
            stalled.sendall(b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n"
                            b"Authorization: Bearer t-alice\r\n\r\n")  # fmt: skip
            time.sleep(0.5)  # the one thread is writing to it now
            started = time.monotonic()
            health = running.get("/healthz", timeout=15)
            waited = time.monotonic() - started
            stalled.settimeout(10)
            received = 0
            while chunk := _recv(stalled):
                received += len(chunk)
            stalled.close()
        finally:
            running.stop()
    assert health.status == 200
    assert waited < 6, f"/healthz waited {waited:.1f} s"
    assert received < 8000 * 1000, "the stalled reader was cut off before the end"


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(1 << 20)
    except ConnectionResetError:
        return b""
