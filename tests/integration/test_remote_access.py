"""Who sees what through the remote CLI, end to end: the real official client port-forwards
through the cluster stand-in to a real agent's API port; the agent's server checks the CLI's
token with the stand-in's TokenReview and each namespace with its SubjectAccessReview. The
truth is the local scan of the same CRI node and the stand-in's RBAC table."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.agent_process import AgentProcess, start_agent
from harness.cluster_standin import Cluster, pod, serve_cluster, write_user_kubeconfig
from harness.cri_node import CriNode, CriPod, PodSpec

pytestmark = [pytest.mark.root, pytest.mark.containerd]

NODE = os.uname().nodename  # the name the agent reports, as the local scan does
TEAM = "nsi-c-team"  # the namespace of this file's own pod; the shared CRI pods are in default
TEAM_POD = "nsi-c-team-pod"
AGENT_USER = "system:serviceaccount:nsinspect:nsinspect-agent"
TOKENS = {"t-agent": AGENT_USER, "t-admin": "admin", "t-dev": "dev"}
RBAC = {"admin": {"*"}, "dev": {"default"}}
PEM = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n").decode()
CERTIFICATE_USER = {"client-certificate-data": PEM, "client-key-data": PEM}


def nsinspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsinspect", *args], capture_output=True, text=True, timeout=120, check=False
    )


def runtime_args(cri_node: CriNode) -> tuple[str, ...]:
    return ("--cri-socket", cri_node.socket, "--runtime-state", f"containerd={cri_node.state_dir}")


@pytest.fixture(scope="module")
def team_pod(cri_node: CriNode, cri_pods: dict[str, CriPod]) -> Iterator[CriPod]:
    created = cri_node.run_pod(
        PodSpec(TEAM_POD, {"app": ["tail", "-f", "/dev/null"]}, namespace=TEAM)
    )
    yield created
    cri_node.remove_pod(created)


@pytest.fixture(scope="module")
def cluster(cri_pods: dict[str, CriPod], team_pod: CriPod) -> Cluster:
    state = Cluster(tokens=dict(TOKENS), rbac={k: set(v) for k, v in RBAC.items()})
    for cri_pod in [*cri_pods.values(), team_pod]:
        state.pods.append(pod(cri_pod.spec.name, cri_pod.spec.namespace, NODE))
    return state


@pytest.fixture(scope="module")
def cluster_port(cluster: Cluster) -> Iterator[int]:
    with serve_cluster(cluster) as port:
        yield port


def run_agent(tmp: Path, cri_node: CriNode, cluster_port: int, api_auth: str) -> AgentProcess:
    """A real agent whose server checks tokens with the stand-in (its kubeconfig's token is the
    agent's service account)."""
    kubeconfig = write_user_kubeconfig(tmp / "agent-kubeconfig", cluster_port, {"token": "t-agent"})
    running = start_agent(
        tmp, "--kubeconfig", str(kubeconfig), "--api-auth", api_auth,
        interval=1.0, global_args=runtime_args(cri_node),
    )  # fmt: skip
    try:
        running.wait_ready()
    except BaseException:
        running.stop()
        raise
    return running


@pytest.fixture(scope="module")
def agent(
    tmp_path_factory: pytest.TempPathFactory, cri_node: CriNode, cluster: Cluster,
    cluster_port: int, team_pod: CriPod,
) -> Iterator[AgentProcess]:  # fmt: skip
    running = run_agent(tmp_path_factory.mktemp("access-agent"), cri_node, cluster_port, "optional")
    cluster.add_agent(
        "nsinspect-agent-c1", NODE, f"127.0.0.1:{running.port}", f"127.0.0.1:{running.api_port}"
    )
    yield running
    running.stop()


def as_user(tmp_path: Path, cluster_port: int, user: dict[str, Any]) -> tuple[str, ...]:
    kubeconfig = write_user_kubeconfig(tmp_path / "kubeconfig", cluster_port, user)
    return ("--kubeconfig", str(kubeconfig))


def namespaces(listing: subprocess.CompletedProcess[str]) -> set[str]:
    assert listing.returncode == 0, listing.stderr
    return {item["pod"]["namespace"] for item in json.loads(listing.stdout)["items"]}


def reviews_of(cluster: Cluster, user: str) -> list[tuple[str, bool]]:
    """The stand-in's SubjectAccessReviews of `user`: (namespace, allowed)."""
    return [
        (r["spec"]["resourceAttributes"]["namespace"], r["status"]["allowed"])
        for r in cluster.reviews
        if r["kind"] == "SubjectAccessReview" and r["spec"].get("user") == user
        and "resourceAttributes" in r["spec"]
    ]  # fmt: skip


def test_allowed_namespace_gives_the_same_report_as_local(
    tmp_path: Path, agent: AgentProcess, cluster: Cluster, cluster_port: int, cri_node: CriNode
) -> None:
    dev = as_user(tmp_path, cluster_port, {"token": "t-dev"})
    remote = nsinspect(*dev, "pod", "my-nginx-pod", "-n", "default")
    local = nsinspect(*runtime_args(cri_node), "--local", "pod", "my-nginx-pod", "-n", "default")
    assert remote.returncode == 0, remote.stderr
    assert local.returncode == 0, local.stderr
    assert remote.stdout == local.stdout
    assert ("default", True) in reviews_of(cluster, "dev")
    token_reviews = [r for r in cluster.reviews if r["kind"] == "TokenReview"]
    assert token_reviews and all(r["caller"] == AGENT_USER for r in token_reviews)


def test_forbidden_namespace_is_refused_with_the_agents_words(
    tmp_path: Path, agent: AgentProcess, cluster: Cluster, cluster_port: int
) -> None:
    dev = as_user(tmp_path, cluster_port, {"token": "t-dev"})
    refused = nsinspect(*dev, "pod", TEAM_POD, "-n", TEAM)
    assert refused.returncode == 1, refused.stdout
    assert f'forbidden: you cannot get pods in namespace "{TEAM}"' in refused.stderr
    assert TEAM_POD not in refused.stdout and "Traceback" not in refused.stderr
    assert (TEAM, False) in reviews_of(cluster, "dev")
    listing = nsinspect(*dev, "pods", "-n", TEAM)
    assert listing.returncode == 1
    assert f'forbidden: you cannot get pods in namespace "{TEAM}"' in listing.stderr
    admin = as_user(tmp_path, cluster_port, {"token": "t-admin"})
    allowed = nsinspect(*admin, "pod", TEAM_POD, "-n", TEAM)
    assert allowed.returncode == 0, allowed.stderr
    assert f"Namespace: {TEAM}" in allowed.stdout


def test_all_namespaces_lists_only_the_allowed_ones(
    tmp_path: Path, agent: AgentProcess, cluster_port: int, cri_node: CriNode
) -> None:
    local = namespaces(nsinspect(*runtime_args(cri_node), "--local", "pods", "-A", "-o", "json"))
    assert {"default", TEAM} <= local
    admin = nsinspect(*as_user(tmp_path, cluster_port, {"token": "t-admin"}),
                      "pods", "-A", "-o", "json")  # fmt: skip
    assert namespaces(admin) == local
    dev = nsinspect(
        *as_user(tmp_path, cluster_port, {"token": "t-dev"}), "pods", "-A", "-o", "json"
    )
    assert namespaces(dev) == local & RBAC["dev"]


def test_a_token_the_cluster_does_not_know_is_refused(
    tmp_path: Path, agent: AgentProcess, cluster_port: int
) -> None:
    stranger = as_user(tmp_path, cluster_port, {"token": "t-stranger"})
    refused = nsinspect(*stranger, "pod", "my-nginx-pod", "-n", "default")
    assert refused.returncode == 1
    assert "the token was not accepted" in refused.stderr


def test_port_forward_refused_by_rbac(
    tmp_path: Path, agent: AgentProcess, cluster: Cluster, cluster_port: int
) -> None:
    cluster.portforward_users = {"admin"}
    try:
        dev = as_user(tmp_path, cluster_port, {"token": "t-dev"})
        refused = nsinspect(*dev, "pod", "my-nginx-pod", "-n", "default")
        admin = as_user(tmp_path, cluster_port, {"token": "t-admin"})
        allowed = nsinspect(*admin, "pod", "my-nginx-pod", "-n", "default")
    finally:
        cluster.portforward_users = None
    assert refused.returncode == 1
    assert (
        'Error from server (Forbidden): pods "nsinspect-agent-c1" is forbidden: User "dev" '
        'cannot create resource "pods/portforward" in API group "" in the namespace "nsinspect"'
    ) in refused.stderr.splitlines()
    assert allowed.returncode == 0, allowed.stderr


def test_required_auth_refuses_a_kubeconfig_without_token(
    tmp_path: Path, cri_node: CriNode, team_pod: CriPod
) -> None:
    cluster = Cluster(tokens=dict(TOKENS), rbac={k: set(v) for k, v in RBAC.items()})
    cluster.pods.append(pod("my-nginx-pod", "default", NODE))
    with serve_cluster(cluster) as cluster_port:
        strict = run_agent(tmp_path, cri_node, cluster_port, "required")
        try:
            cluster.add_agent("nsinspect-agent-c2", NODE, f"127.0.0.1:{strict.port}",
                              f"127.0.0.1:{strict.api_port}")  # fmt: skip
            no_token = nsinspect(*as_user(tmp_path, cluster_port, {}),
                                 "pod", "my-nginx-pod", "-n", "default")  # fmt: skip
            certificate = nsinspect(*as_user(tmp_path, cluster_port, CERTIFICATE_USER),
                                    "pod", "my-nginx-pod", "-n", "default")  # fmt: skip
            dev = nsinspect(*as_user(tmp_path, cluster_port, {"token": "t-dev"}),
                            "pod", "my-nginx-pod", "-n", "default")  # fmt: skip
        finally:
            strict.stop()
    assert no_token.returncode == 1
    assert "a bearer token is required" in no_token.stderr
    assert "Traceback" not in no_token.stderr
    assert certificate.returncode == 1
    assert "a bearer token is required" in certificate.stderr
    assert "the kubeconfig's user has a client certificate and no token" in certificate.stderr
    assert dev.returncode == 0, dev.stderr
