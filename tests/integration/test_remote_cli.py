"""The remote CLI end to end: a stand-in API server answers the pod lookups and forwards the
official client's pod port-forward to a real agent's API port on this machine, which scans the
real containerd pods of the CRI test node. The printed report must equal the local one; every
error must be clear."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.agent_process import AgentProcess, free_port, start_agent
from harness.cluster_standin import Cluster, pod, serve_cluster
from harness.cri_node import CriNode, CriPod
from harness.kube_standin import write_kubeconfig
from harness.label_selection import selects

pytestmark = [pytest.mark.root, pytest.mark.containerd]

NODE = "node-a"


def nsinspect(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsinspect", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def runtime_args(cri_node: CriNode) -> tuple[str, ...]:
    return ("--cri-socket", cri_node.socket, "--runtime-state", f"containerd={cri_node.state_dir}")


@pytest.fixture(scope="module")
def agent(
    tmp_path_factory: pytest.TempPathFactory, cri_node: CriNode, cri_pods: dict[str, CriPod]
) -> Iterator[AgentProcess]:
    running = start_agent(
        tmp_path_factory.mktemp("remote-agent"), interval=1.0, global_args=runtime_args(cri_node)
    )
    running.wait_ready()
    yield running
    running.stop()


def api_address(agent: AgentProcess) -> str:
    """The agent's JSON API port, which the port-forward reaches."""
    return f"127.0.0.1:{agent.api_port}"


@pytest.fixture
def cluster(agent: AgentProcess, cri_pods: dict[str, CriPod]) -> Cluster:
    state = Cluster()
    for cri_pod in cri_pods.values():
        state.pods.append(pod(cri_pod.spec.name, cri_pod.spec.namespace, NODE))
    state.add_agent("nsinspect-agent-x1", NODE, f"127.0.0.1:{agent.port}", api_address(agent))
    return state


@pytest.fixture
def kubeconfig(tmp_path: Path, cluster: Cluster) -> Iterator[Path]:
    with serve_cluster(cluster) as port:
        yield write_kubeconfig(tmp_path / "kubeconfig", port)


def test_remote_report_prints_exactly_like_the_local_one(
    kubeconfig: Path, cri_node: CriNode, cluster: Cluster
) -> None:
    remote = nsinspect("--kubeconfig", str(kubeconfig), "pod", "my-nginx-pod", "-n", "default")
    local = nsinspect(*runtime_args(cri_node), "--local", "pod", "my-nginx-pod", "-n", "default")
    assert remote.returncode == 0, remote.stderr
    assert local.returncode == 0, local.stderr
    assert "asking the cluster's agents" in remote.stderr
    # Pids, inodes and verdicts are the same node's; the details (addresses, ports) too.
    assert remote.stdout == local.stdout
    assert "my-nginx-container" in remote.stdout and "Namespace: default" in remote.stdout
    forwarded = [r for r in cluster.requests if "/portforward" in r]
    assert forwarded == ["/api/v1/namespaces/nsinspect/pods/nsinspect-agent-x1/portforward"]


def test_kubectl_plugin_entry_point_and_json(kubeconfig: Path) -> None:
    result = subprocess.run(
        ["kubectl-nsinspect", "--kubeconfig", str(kubeconfig), "pod", "my-nginx-pod", "-o", "json"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '"kind": "PodReport"' in result.stdout
    assert result.stderr == ""  # json output stays quiet


def test_pods_and_doctor_across_the_cluster_name_silent_nodes(
    kubeconfig: Path, cluster: Cluster
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    cluster.add_agent("nsinspect-agent-dead", "node-b", dead, dead)
    listing = nsinspect("--kubeconfig", str(kubeconfig), "pods", "-A", "-o", "wide")
    assert listing.returncode == 0, listing.stderr
    assert "my-nginx-pod" in listing.stdout and "nsi-shared-pid" in listing.stdout
    assert "the agent on node node-b did not answer: nothing answered on 127.0.0.1:9978" in (
        listing.stderr
    )
    assert "connection refused" in listing.stderr  # the kubelet's word, from the error channel
    doctor = nsinspect("--kubeconfig", str(kubeconfig), "doctor", "-A", "-o", "json")
    assert "the agent on node node-b did not answer" in doctor.stderr
    assert '"unreachable"' in doctor.stdout and "node-b" in doctor.stdout


def test_unknown_pod(kubeconfig: Path) -> None:
    result = nsinspect("--kubeconfig", str(kubeconfig), "pod", "nope", "-n", "default")
    assert result.returncode == 1
    assert 'Error from server (NotFound): pods "nope" not found' in result.stderr.splitlines()


def test_no_agent_on_the_pods_node(kubeconfig: Path, cluster: Cluster) -> None:
    cluster.pods.append(pod("lonely", "default", "node-without-agent"))
    result = nsinspect("--kubeconfig", str(kubeconfig), "pod", "lonely", "-n", "default")
    assert result.returncode == 1
    assert "no nsinspect agent runs on node node-without-agent" in result.stderr
    assert "kubectl apply -k" in result.stderr


@pytest.mark.parametrize("verb", ["get", "list"])
def test_rbac_forbidden_says_which_verb_on_which_resource(
    kubeconfig: Path, cluster: Cluster, verb: str
) -> None:
    cluster.forbidden.add(verb)
    result = nsinspect("--kubeconfig", str(kubeconfig), "pod", "my-nginx-pod", "-n", "default")
    assert result.returncode == 1
    # The API's message whole, as kubectl prints it: `get` the pod, or `list` the agents.
    what, namespace = ('pods "my-nginx-pod"', "default") if verb == "get" else ("pods", "nsinspect")
    assert (
        f'Error from server (Forbidden): {what} is forbidden: User "alice" cannot {verb} '
        f'resource "pods" in API group "" in the namespace "{namespace}"'
    ) in result.stderr.splitlines()


def test_api_unreachable(tmp_path: Path) -> None:
    port = free_port()
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", port)
    result = nsinspect("--kubeconfig", str(kubeconfig), "pod", "x", "-n", "default")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"The connection to the server 127.0.0.1:{port} was refused - did you specify the right "
        "host or port?"
    )
    assert "Traceback" not in result.stderr


def test_api_timeout(kubeconfig: Path, cluster: Cluster) -> None:
    cluster.delay = 3.0
    result = nsinspect(
        "--kubeconfig", str(kubeconfig), "--request-timeout", "0.5", "pod", "x", "-n", "default"
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "Unable to connect to the server: net/http: request canceled (Client.Timeout exceeded "
        "while awaiting headers)"
    )


def test_local_is_forced_by_flag_even_with_a_cluster(kubeconfig: Path, cri_node: CriNode) -> None:
    result = nsinspect(
        "--kubeconfig", str(kubeconfig), *runtime_args(cri_node), "--local", "pods", "-n", "default"
    )
    assert result.returncode == 0
    assert "asking the cluster's agents" not in result.stderr
    assert "my-nginx-pod" in result.stdout


LABELS = {"my-nginx-pod": {"app": "web", "tier": "front"}, "nsi-shared-pid": {"app": "db"}}


def label(cluster: Cluster) -> None:
    """The workload pods' labels, in the API's pod objects (the agents keep theirs)."""
    for item in cluster.pods:
        if item["metadata"]["namespace"] != "nsinspect":
            item["metadata"]["labels"] = LABELS.get(item["metadata"]["name"], {})


def names_of(result: subprocess.CompletedProcess[str]) -> set[str]:
    assert result.returncode == 0, result.stderr
    return {item["pod"]["name"] for item in json.loads(result.stdout)["items"]}


@pytest.mark.parametrize("selector", ["app=web", "app in (web,db)", "!app", "app,tier!=front"])
def test_label_selection_is_the_api_servers(
    kubeconfig: Path, cluster: Cluster, selector: str
) -> None:
    """The labels live in the API's pod objects only; the agent reports the node's scan. The
    truth: the unfiltered remote list, cut to the pods the stand-in's own reading selects."""
    label(cluster)
    every = names_of(nsinspect("--kubeconfig", str(kubeconfig), "pods", "-A", "-o", "json"))
    chosen = {
        item["metadata"]["name"]
        for item in cluster.pods
        if item["metadata"]["namespace"] != "nsinspect"
        and selects(item["metadata"]["labels"], selector)
    }
    selected = nsinspect(
        "--kubeconfig", str(kubeconfig), "pods", "-A", "-l", selector, "-o", "json"
    )
    assert names_of(selected) == every & chosen
    assert chosen and every & chosen  # the case selects something the agent reports
    assert cluster.selectors[-1]  # the API server was asked with a labelSelector


def test_doctor_by_label_keeps_only_the_selected_pods_findings(
    kubeconfig: Path, cluster: Cluster
) -> None:
    label(cluster)
    every = nsinspect("--kubeconfig", str(kubeconfig), "doctor", "-A", "-o", "json")
    selected = nsinspect("--kubeconfig", str(kubeconfig), "doctor", "-A", "-l", "app=web",
                         "-o", "json")  # fmt: skip
    assert selected.returncode in (0, 1, 3), selected.stderr
    findings = json.loads(selected.stdout)["items"]
    truth = [i for i in json.loads(every.stdout)["items"] if i["pod"] == "default/my-nginx-pod"]
    assert findings == truth


def test_selection_asks_only_the_agents_of_the_selected_pods_nodes(
    kubeconfig: Path, cluster: Cluster
) -> None:
    label(cluster)
    dead = f"127.0.0.1:{free_port()}"
    cluster.add_agent("nsinspect-agent-dead", "node-b", dead, dead)
    quiet = nsinspect("--kubeconfig", str(kubeconfig), "pods", "-A", "-l", "app=web")
    assert quiet.returncode == 0, quiet.stderr
    assert "node-b" not in quiet.stderr
    assert not [r for r in cluster.requests if "nsinspect-agent-dead" in r]
    cluster.pods.append(pod("elsewhere", "default", "node-b", {"app": "web"}))
    warned = nsinspect("--kubeconfig", str(kubeconfig), "pods", "-A", "-l", "app=web")
    assert "the agent on node node-b did not answer" in warned.stderr
    assert "my-nginx-pod" in warned.stdout
