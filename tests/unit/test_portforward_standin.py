"""The cluster stand-in speaks the API server's port-forward, TokenReview and SubjectAccessReview
as the official client and the real API expect: the official client's own PortForward reaches a
plain TCP echo server through it, and the reviews answer from the test's tables."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.stream import portforward

from harness.agent_process import free_port
from harness.cluster_standin import Cluster, serve_cluster


@pytest.fixture
def echo_address() -> Iterator[str]:
    """A TCP server that sends back upper-cased whatever it gets, then closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            with peer:
                while data := peer.recv(65536):
                    peer.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def core_api(port: int, token: str | None = None) -> Any:
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{port}"
    if token:
        configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.CoreV1Api(client.ApiClient(configuration))


def test_official_client_port_forward_reaches_the_pods_port(echo_address: str) -> None:
    cluster = Cluster()
    cluster.add_agent("agent-a", "node-a", f"127.0.0.1:{free_port()}", echo_address)
    with serve_cluster(cluster) as port:
        core = core_api(port)
        forward = portforward(
            core.connect_get_namespaced_pod_portforward, "agent-a", "nsinspect", ports="9978"
        )
        channel = forward.socket(9978)
        channel.settimeout(10)
        payload = bytes(range(256)) * 300  # larger than one frame, every byte value
        channel.sendall(payload)
        received = b""
        while len(received) < len(payload):
            received += channel.recv(65536)
        assert received == payload.upper()
        assert forward.error(9978) is None
        forward.close()
    assert any(path.endswith("/pods/agent-a/portforward") for path in cluster.requests)


def test_refused_port_is_told_on_the_error_channel() -> None:
    cluster = Cluster()
    closed = free_port()
    cluster.add_agent("agent-a", "node-a", f"127.0.0.1:{closed}", f"127.0.0.1:{closed}")
    with serve_cluster(cluster) as port:
        forward = portforward(
            core_api(port).connect_get_namespaced_pod_portforward,
            "agent-a", "nsinspect", ports="9978",
        )  # fmt: skip
        channel = forward.socket(9978)
        channel.settimeout(10)
        assert channel.recv(100) == b""  # closed, as the kubelet closes a port it cannot reach
        error = forward.error(9978)
    assert error is not None and "connection refused" in error and "9978" in error


def test_port_forward_refused_by_rbac_is_a_403_handshake() -> None:
    cluster = Cluster(tokens={"t-bob": "bob"}, require_auth=True, portforward_users={"alice"})
    cluster.add_agent("agent-a", "node-a", f"127.0.0.1:{free_port()}")
    with serve_cluster(cluster) as port, pytest.raises(client.ApiException) as refused:
        portforward(
            core_api(port, "t-bob").connect_get_namespaced_pod_portforward,
            "agent-a", "nsinspect", ports="9978",
        )  # fmt: skip
    assert "Handshake status 403" in str(refused.value.reason)
    assert 'cannot create resource \\"pods/portforward\\"' in str(refused.value.reason)


def post(port: int, path: str, body: dict[str, Any], token: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(), headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def test_token_review_in_the_real_shape() -> None:
    cluster = Cluster(tokens={"t-agent": "system:serviceaccount:nsinspect:agent", "t-bob": "bob"})
    cluster.require_auth = True
    with serve_cluster(cluster) as port:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview"}
        code, known = post(port, TOKEN_REVIEWS, {**review, "spec": {"token": "t-bob"}}, "t-agent")
        assert code == 201
        assert known["kind"] == "TokenReview" and known["spec"] == {"token": "t-bob"}
        assert known["status"]["authenticated"] is True
        assert known["status"]["user"]["username"] == "bob"
        assert "system:authenticated" in known["status"]["user"]["groups"]
        _, unknown = post(port, TOKEN_REVIEWS, {**review, "spec": {"token": "nope"}}, "t-agent")
        assert "authenticated" not in unknown["status"]  # omitempty, as the Go type says
        assert unknown["status"]["user"] == {} and unknown["status"]["error"]
        code, _ = post(port, TOKEN_REVIEWS, {**review, "spec": {"token": "t-bob"}}, "nope")
        assert code == 401  # the reviewer itself must be authenticated
    assert [r["caller"] for r in cluster.reviews] == [cluster.tokens["t-agent"]] * 2


def pods(namespace: str, verb: str = "get", resource: str = "pods") -> dict[str, Any]:
    return {"resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource}}


@pytest.mark.parametrize(
    ("attributes", "allowed"),
    [
        (pods("team-a"), True),
        (pods("team-b"), False),
        (pods(""), False),
        (pods("team-a", verb="list"), False),
        (pods("team-a", resource="secrets"), False),
        ({"nonResourceAttributes": {"path": "/metrics", "verb": "get"}}, True),
        ({"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}, False),
    ],
)
def test_access_review_follows_the_tables(attributes: dict[str, Any], allowed: bool) -> None:
    cluster = Cluster(rbac={"bob": {"team-a"}}, non_resource={"bob": {"/metrics"}})
    spec = {"user": "bob", "groups": ["system:authenticated"], **attributes}
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
    with serve_cluster(cluster) as port:
        code, answer = post(port, ACCESS_REVIEWS, body, None)
    assert code == 201 and answer["kind"] == "SubjectAccessReview"
    assert answer["status"]["allowed"] is allowed


def test_every_namespace_also_answers_the_cluster_scope() -> None:
    cluster = Cluster(rbac={"root-ish": {"*"}})
    spec = {"user": "root-ish", **pods("")}
    with serve_cluster(cluster) as port:
        _, answer = post(port, ACCESS_REVIEWS, {"spec": spec}, None)
    assert answer["status"]["allowed"] is True and "reason" in answer["status"]
