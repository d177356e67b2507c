"""Inside a pod, through the real `nsinspect` executable: the service account is remote mode's
cluster configuration only when it can be used (the API's service variables and a token to
read) and the pod is not the agent's own scanner (NSINSPECT_PROC_ROOT, the node's /proc, is
set there); otherwise `nsinspect pods` scans this node. The stand-in plays the API server over
TLS with the service account's CA and checks its token; the pod's namespace file gives the
default namespace, as kubectl's in a pod."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.api_failures import Certificates, make_certificates, server_tls
from harness.cluster_standin import Cluster, pod, serve_cluster

NODE = os.uname().nodename  # what a local scan's list names as its node
TOKEN, USER = "t-debugger", "system:serviceaccount:team-x:debugger"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl (apt-get install openssl)")
    return make_certificates(tmp_path_factory.mktemp("tls"), ("127.0.0.1",))


@pytest.fixture
def cluster() -> Cluster:
    state = Cluster(tokens={TOKEN: USER}, require_auth=True)
    state.pods.append(pod("web", "team-x", "node-z"))
    return state


@pytest.fixture
def api_port(cluster: Cluster, certificates: Certificates) -> Iterator[int]:
    with serve_cluster(cluster, tls=server_tls(certificates)) as port:
        yield port


def service_account(directory: Path, certificates: Certificates, token: str | None) -> Path:
    """A mounted service account's files: token (unless None), ca.crt, namespace."""
    directory.mkdir()
    if token is not None:
        (directory / "token").write_text(token)
    shutil.copy(certificates.ca, directory / "ca.crt")
    (directory / "namespace").write_text("team-x")
    return directory


def in_pod(tmp_path: Path, port: int, account: Path, **extra: str) -> dict[str, str]:
    """The environment of a process in a pod: the API's service variables, no kubeconfig."""
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "NSINSPECT_PROC_ROOT")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        KUBERNETES_SERVICE_HOST="127.0.0.1",
        KUBERNETES_SERVICE_PORT=str(port),
        NSINSPECT_SERVICE_ACCOUNT_DIR=str(account),
    )
    env.update(extra)
    return env


def nsinspect(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsinspect", *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def scanned_here(result: subprocess.CompletedProcess[str]) -> None:
    """The answer is this node's own scan (a remote list names no node)."""
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["node"] == NODE
    assert "The connection to the server" not in result.stderr


def agent_requests(cluster: Cluster) -> list[str]:
    return [r for r in cluster.requests if r.startswith("/api/v1/namespaces/")]


def test_service_account_with_a_token_is_remote_mode(
    tmp_path: Path, cluster: Cluster, api_port: int, certificates: Certificates
) -> None:
    account = service_account(tmp_path / "sa", certificates, TOKEN)
    result = nsinspect(in_pod(tmp_path, api_port, account), "pod", "web")
    # The pod was looked up in the pod's own namespace, over TLS with the account's CA and
    # with its token (the stand-in refuses any other); no agent runs on its node.
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        "Error: no nsinspect agent runs on node node-z; install it with: kubectl apply -k "
    )
    assert agent_requests(cluster)[0] == "/api/v1/namespaces/team-x/pods/web"


def test_no_token_scans_this_node(
    tmp_path: Path, cluster: Cluster, api_port: int, certificates: Certificates
) -> None:
    account = service_account(tmp_path / "sa", certificates, None)
    scanned_here(nsinspect(in_pod(tmp_path, api_port, account), "pods", "-o", "json"))
    assert agent_requests(cluster) == []


def test_a_token_that_is_a_fifo_is_no_token(
    tmp_path: Path, cluster: Cluster, api_port: int, certificates: Certificates
) -> None:
    account = service_account(tmp_path / "sa", certificates, None)
    os.mkfifo(account / "token")  # read blocking, it would hang: it must not be waited on
    scanned_here(nsinspect(in_pod(tmp_path, api_port, account), "pods", "-o", "json"))
    assert agent_requests(cluster) == []


def test_the_agents_own_scanner_scans_its_node(
    tmp_path: Path, cluster: Cluster, api_port: int, certificates: Certificates
) -> None:
    """The DaemonSet's scanner has a token (the agent lists pods) and NSINSPECT_PROC_ROOT;
    `kubectl exec` into it and `nsinspect pods` answers from its node."""
    account = service_account(tmp_path / "sa", certificates, TOKEN)
    env = in_pod(tmp_path, api_port, account, NSINSPECT_PROC_ROOT="/proc")
    scanned_here(nsinspect(env, "pods", "-o", "json"))
    assert not [r for r in agent_requests(cluster) if r.startswith("/api/v1/namespaces/nsinspect")]


def test_a_kubeconfig_wins_over_the_service_account(
    tmp_path: Path, cluster: Cluster, api_port: int, certificates: Certificates
) -> None:
    """As kubectl: an explicit kubeconfig is used even inside a pod (here one pointing at a
    closed port, so its failure says which server was asked)."""
    account = service_account(tmp_path / "sa", certificates, TOKEN)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))  # fmt: skip
    env = in_pod(tmp_path, api_port, account)
    result = nsinspect(env, "--kubeconfig", str(kubeconfig), "pod", "web")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("The connection to the server 127.0.0.1:1 ")
    assert agent_requests(cluster) == []
