"""kubectl's habits in remote mode (issue I): global flags after the verb, the context's
namespace as the default scope, the empty-list sentence, -o name and jsonpath over the agents'
list. A stand-in API server forwards to a real agent
scanning the CRI test node's pods (as tests/integration/test_remote_cli.py does)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.agent_process import AgentProcess, start_agent
from harness.cluster_standin import Cluster, pod, serve_cluster
from harness.cri_node import CriNode, CriPod
from harness.kube_standin import write_kubeconfig

pytestmark = [pytest.mark.root, pytest.mark.containerd]
NODE = "node-conv"


def nsinspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsinspect", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def agent(
    tmp_path_factory: pytest.TempPathFactory, cri_node: CriNode, cri_pods: dict[str, CriPod]
) -> Iterator[AgentProcess]:
    runtime = (
        "--cri-socket",
        cri_node.socket,
        "--runtime-state",
        f"containerd={cri_node.state_dir}",
    )
    running = start_agent(tmp_path_factory.mktemp("conv-agent"), interval=1.0, global_args=runtime)
    running.wait_ready()
    yield running
    running.stop()


@pytest.fixture
def kubeconfig(tmp_path: Path, agent: AgentProcess, cri_pods: dict[str, CriPod]) -> Iterator[str]:
    cluster = Cluster()
    for cri_pod in cri_pods.values():
        cluster.pods.append(pod(cri_pod.spec.name, cri_pod.spec.namespace, NODE))
    cluster.add_agent(
        "nsinspect-agent-conv", NODE, f"127.0.0.1:{agent.port}", f"127.0.0.1:{agent.api_port}"
    )
    with serve_cluster(cluster) as port:
        yield str(write_kubeconfig(tmp_path / "kubeconfig", port))


def listing(*args: str) -> dict[str, Any]:
    done = nsinspect(*args)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    for part in (document, *document["items"]):
        part.pop("taken_at", None)
    return document


def mine(document: dict[str, Any], names: set[str]) -> list[dict[str, Any]]:
    return [item for item in document["items"] if item["pod"]["name"] in names]


def test_flags_after_the_verb_and_the_context_namespace(
    kubeconfig: str, cri_pods: dict[str, CriPod]
) -> None:
    before = listing("--kubeconfig", kubeconfig, "--request-timeout", "20s", "pods", "-o", "json")
    after = listing("pods", "-o=json", "--request-timeout=20s", "--kubeconfig", kubeconfig)
    ours = {p.spec.name for p in cri_pods.values()}  # others' pods may come and go meanwhile
    assert mine(before, ours) == mine(after, ours) != []
    # The stand-in's context names no namespace: kubectl's default is `default`. (The agent
    # scans a CRI node other tests' pods may share: ours are among what it lists.)
    in_default = {p.spec.name for p in cri_pods.values() if p.spec.namespace == "default"}
    assert {item["pod"]["namespace"] for item in before["items"]} == {"default"}
    assert in_default <= {item["pod"]["name"] for item in before["items"]}
    everywhere = listing("pods", "-A", "--kubeconfig", kubeconfig, "-o", "json")
    assert ours <= {item["pod"]["name"] for item in everywhere["items"]}
    named = nsinspect("pods", "-A", "--kubeconfig", kubeconfig, "-o", "name").stdout.splitlines()
    assert all(line.startswith("pod/") for line in named)
    assert {f"pod/{name}" for name in ours} <= set(named)
    template = "jsonpath={range .items[*]}{.pod.namespace}/{.pod.name}{'\\n'}{end}"
    path = nsinspect("pods", "-A", "--kubeconfig", kubeconfig, "-o", template).stdout
    assert {f"{p.spec.namespace}/{p.spec.name}" for p in cri_pods.values()} <= set(
        path.splitlines()
    )


def test_an_empty_namespace_says_so_on_stderr(kubeconfig: str) -> None:
    empty = nsinspect("--kubeconfig", kubeconfig, "pods", "-n", "nsi-conv-nothing")
    assert (empty.returncode, empty.stdout) == (0, "")
    assert "No resources found in nsi-conv-nothing namespace." in empty.stderr.splitlines()
    named = nsinspect("pods", "-n", "nsi-conv-nothing", "--kubeconfig", kubeconfig, "-o", "name")
    assert (named.returncode, named.stdout) == (0, "")
    as_json = json.loads(nsinspect("pods", "-n", "nsi-conv-nothing", "--kubeconfig", kubeconfig,
                                   "-o", "json").stdout)  # fmt: skip
    assert as_json["kind"] == "PodList" and as_json["items"] == []
