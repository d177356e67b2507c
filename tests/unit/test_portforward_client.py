"""The remote CLI's way to an agent: the official client's port-forward through the cluster
stand-in to a scripted agent's API port, one HTTP GET per port-forward with the kubeconfig's
token, and each failure a clear error. The agent here is a small HTTP server answering what the
test scripts; the real agent is in tests/integration/test_remote_access.py."""

from __future__ import annotations

import base64
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.agent_process import free_port
from harness.cluster_standin import Cluster, pod, serve_cluster, write_user_kubeconfig
from harness.kube_standin import send_json
from nsinspect.cli.remote import RemoteConfig, RemoteError, RemoteSource

FORBIDDEN = 'forbidden: you cannot get pods in namespace "team-b"'


@dataclass
class ScriptedAgent:
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)
    delay: float = 0.0


def status(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
            "reason": "Forbidden", "code": code}  # fmt: skip


@pytest.fixture
def agent() -> Iterator[tuple[ScriptedAgent, int]]:
    script = ScriptedAgent()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            script.seen.append((self.path, self.headers.get("Authorization")))
            time.sleep(script.delay)
            code, body = script.answers.get(self.path, (404, status(404, "not found")))
            send_json(self, code, body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield script, server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def cluster(agent: tuple[ScriptedAgent, int]) -> Cluster:
    state = Cluster(tokens={"t-bob": "bob"})
    state.pods.append(pod("web", "team-b", "node-a"))
    state.add_agent("agent-a", "node-a", f"127.0.0.1:{free_port()}", f"127.0.0.1:{agent[1]}")
    return state


def source(tmp_path: Path, port: int, user: dict[str, Any], timeout: float = 10) -> RemoteSource:
    kubeconfig = write_user_kubeconfig(tmp_path / "kubeconfig", port, user)
    return RemoteSource(RemoteConfig(str(kubeconfig), timeout=timeout))


def test_the_token_goes_to_the_agent_and_its_403_is_said_verbatim(
    tmp_path: Path, cluster: Cluster, agent: tuple[ScriptedAgent, int]
) -> None:
    script, _ = agent
    script.answers["/api/v1/pods/team-b/web"] = (403, status(403, FORBIDDEN))
    with serve_cluster(cluster) as port, pytest.raises(RemoteError) as refused:
        source(tmp_path, port, {"token": "t-bob"}).pod_report("web", "team-b")
    assert refused.value.message == FORBIDDEN
    assert script.seen == [("/api/v1/pods/team-b/web", "Bearer t-bob")]


def test_a_list_refused_by_every_agent_is_an_error(
    tmp_path: Path, cluster: Cluster, agent: tuple[ScriptedAgent, int]
) -> None:
    script, _ = agent
    script.answers["/api/v1/pods?namespace=team-b"] = (403, status(403, FORBIDDEN))
    with serve_cluster(cluster) as port, pytest.raises(RemoteError) as refused:
        source(tmp_path, port, {"token": "t-bob"}).pod_list("team-b", False)
    assert refused.value.message == FORBIDDEN


def test_no_token_and_a_client_certificate_is_explained(
    tmp_path: Path, cluster: Cluster, agent: tuple[ScriptedAgent, int]
) -> None:
    script, _ = agent
    required = "a bearer token is required: this agent checks who asks (TokenReview)"
    script.answers["/api/v1/pods/team-b/web"] = (401, status(401, required))
    pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")
    user = {"client-certificate-data": pem.decode(), "client-key-data": pem.decode()}
    with serve_cluster(cluster) as port, pytest.raises(RemoteError) as refused:
        source(tmp_path, port, user).pod_report("web", "team-b")
    assert refused.value.message.startswith(required)
    assert "a client certificate cannot be checked" in refused.value.message
    assert script.seen == [("/api/v1/pods/team-b/web", None)]


def test_port_forward_refused_by_rbac(tmp_path: Path, cluster: Cluster) -> None:
    cluster.portforward_users = {"alice"}
    with serve_cluster(cluster) as port, pytest.raises(RemoteError) as refused:
        source(tmp_path, port, {"token": "t-bob"}).pod_report("web", "team-b")
    # The API server's Status, whole, in kubectl's words: who may not do what, where.
    assert refused.value.message == (
        'Error from server (Forbidden): pods "agent-a" is forbidden: User "bob" cannot create '
        'resource "pods/portforward" in API group "" in the namespace "nsinspect"'
    )


def test_an_agent_not_listening_is_named_with_the_kubelets_reason(
    tmp_path: Path, cluster: Cluster
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    cluster.agents["agent-a"]["9978"] = dead
    with serve_cluster(cluster) as port, pytest.raises(RemoteError) as silent:
        source(tmp_path, port, {"token": "t-bob"}).pod_report("web", "team-b")
    assert silent.value.message.startswith(
        "the agent on node node-a did not answer on 127.0.0.1:9978"
    )
    assert "connection refused" in silent.value.message


def test_a_slow_agent_times_out_within_the_timeout(
    tmp_path: Path, cluster: Cluster, agent: tuple[ScriptedAgent, int]
) -> None:
    script, _ = agent
    script.delay = 5.0
    with serve_cluster(cluster) as port:
        started = time.monotonic()
        with pytest.raises(RemoteError) as silent:
            source(tmp_path, port, {"token": "t-bob"}, timeout=1.0).pod_report("web", "team-b")
        took = time.monotonic() - started
    assert "did not answer on 127.0.0.1:9978 (no answer in time)" in silent.value.message
    assert took < 3.0


def test_lists_go_to_every_agent_and_name_the_silent_ones(
    tmp_path: Path, cluster: Cluster, agent: tuple[ScriptedAgent, int]
) -> None:
    script, _ = agent
    empty = {"kind": "PodList", "apiVersion": "nsinspect/v1", "node": "node-a", "taken_at": 1.0,
             "items": []}  # fmt: skip
    script.answers["/api/v1/pods"] = (200, empty)
    dead = f"127.0.0.1:{free_port()}"
    cluster.add_agent("agent-b", "node-b", dead, dead)
    with serve_cluster(cluster) as port:
        remote = source(tmp_path, port, {"token": "t-bob"})
        listing = remote.pod_list(None, True)
    assert listing.items == []
    assert list(remote.unreachable) == ["node-b"]
    forwards = [r for r in cluster.requests if r.endswith("/portforward")]
    assert sorted(forwards) == [f"/api/v1/namespaces/nsinspect/pods/agent-{n}/portforward"
                                for n in "ab"]  # fmt: skip


def test_a_broken_port_forward_is_a_clear_error_without_traceback(
    tmp_path: Path, cluster: Cluster
) -> None:
    cluster.portforward_stray_frame = True
    with serve_cluster(cluster) as port:
        kubeconfig = write_user_kubeconfig(tmp_path / "kubeconfig", port, {"token": "t-bob"})
        result = subprocess.run(
            ["nsinspect", "--kubeconfig", str(kubeconfig), "--request-timeout", "1",
             "pod", "web", "-n", "team-b"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert "the agent on node node-a did not answer on 127.0.0.1:9978" in result.stderr
    assert "Traceback" not in result.stderr and "Exception in thread" not in result.stderr
