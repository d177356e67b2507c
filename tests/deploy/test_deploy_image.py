"""The agent image: built by deploy/image/build.sh, run as the DaemonSet runs it (a pod of two
containers, the scanner and the server), against the seed pod under podman on this machine.

Slow on a cold machine: the first build makes the Debian base with debootstrap and installs the
dependencies from the package index (about three minutes); with the base and podman's layer cache
in place a build takes seconds to a minute.
"""

from __future__ import annotations

import errno
import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.cri_fixtures import SEED_CONTAINERS as CRI_SEED_CONTAINERS
from harness.cri_node import CriNode, CriPod, PodSpec
from harness.daemonset_run import (
    VERSION,
    AgentPod,
    agent_pod,
    build,
    container_flags,
    container_pids,
    image_id,
    inet_sockets,
    podman_run_flags,
    process_status,
    socket_inodes,
)
from harness.manifests import PODMAN_NODE, render
from harness.monitoring import dashboard_expressions, families_used, rule_expressions
from harness.podman import SEED_CONTAINERS, podman

pytestmark = [pytest.mark.root, pytest.mark.podman, pytest.mark.kubectl, pytest.mark.slow]

SEED = "my-nginx-pod"
SYS_PTRACE = 1 << 19  # capability number 19, as /proc/<pid>/status prints the sets
NOBODY = "65534"
METRICS_PORT, API_PORT = 9977, 9978
LISTEN = "0A"  # a TCP socket's state in /proc/net/tcp
POD_SHARED = ("net", "ipc", "uts")  # what kube play's pods share with the infra container


def test_rebuild_is_quick_and_changes_nothing(image: str) -> None:
    before = image_id()
    _, seconds = build()
    assert image_id() == before
    assert seconds < 90, f"a rebuild with nothing changed took {seconds:.0f} s"


def test_image_carries_oci_labels_and_runs_the_agent(image: str) -> None:
    [inspected] = json.loads(podman("image", "inspect", image).stdout)
    config = inspected["Config"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "nsinspect"
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert labels["org.opencontainers.image.description"]
    assert config["Entrypoint"] == ["nsinspect"]
    assert config["Cmd"] == ["agent"]


def run_daemonset_style(image: str, *arguments: str) -> str:
    flags = podman_run_flags(render(PODMAN_NODE))
    done = podman("run", "--rm", *flags, image, *arguments, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def container_status(image: str, container: str) -> dict[str, str]:
    """/proc/self/status of a process started with the container's flags alone."""
    flags = container_flags(render(PODMAN_NODE), container)
    flags = [f for f in flags if not f.startswith("--entrypoint=")]
    # the image has no cat (no coreutils, no shell): Python prints its own status
    show = "print(open('/proc/self/status').read(), end='')"
    done = podman("run", "--rm", "--entrypoint=python3", *flags, image, "-c", show, check=False)
    assert done.returncode == 0, done.stderr
    return dict(line.split(":\t", 1) for line in done.stdout.splitlines() if ":\t" in line)


def test_runs_with_only_the_daemonsets_privileges(image: str) -> None:
    scanner = container_status(image, "scanner")
    assert int(scanner["CapEff"], 16) == SYS_PTRACE
    assert int(scanner["CapBnd"], 16) == SYS_PTRACE
    server = container_status(image, "server")
    assert server["Uid"].split() == [NOBODY] * 4
    assert server["Gid"].split() == [NOBODY] * 4
    for capabilities in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"):
        assert int(server[capabilities], 16) == 0, capabilities
    for fields in (scanner, server):
        assert fields["NoNewPrivs"].strip() == "1"
        assert fields["Seccomp"].strip() == "2"  # a filter is loaded
        assert NOBODY in fields["Groups"].split()  # the pod's fsGroup, the results' group


def test_pods_report_the_seed_pod_daemonset_style(image: str, seed_pod: dict[str, Any]) -> None:
    document = json.loads(run_daemonset_style(image, "pods", "-o", "json"))
    [report] = [item for item in document["items"] if item["pod"]["name"] == SEED]
    assert report["pod"]["uid"] == seed_pod["Id"]
    assert report["sandbox"]["id"] == seed_pod["InfraContainerID"]
    containers = {c["name"]: c["namespaces"] for c in report["containers"]}
    assert set(containers) == set(SEED_CONTAINERS)
    for name, namespaces in containers.items():
        for ns_type in POD_SHARED:
            assert namespaces[ns_type]["verdict"] == "pod", (name, ns_type)
        assert namespaces["pid"]["verdict"] == "private", name


# Runs inside the agent's container, whose image has Python but no curl: the status, then the body.
FETCH = """
import sys, urllib.error, urllib.request
try:
    response = urllib.request.urlopen(sys.argv[1], timeout=10)
except urllib.error.HTTPError as error:
    response = error
except urllib.error.URLError:  # nothing listens yet
    print(0)
    sys.exit()
print(response.status)
sys.stdout.write(response.read().decode())
"""


def http_get(container: str, path: str, port: int = METRICS_PORT) -> tuple[int, str]:
    """GET from inside the agent's pod, as the kubelet's probes and a port-forward reach it; 0 if
    nothing listens."""
    url = f"http://127.0.0.1:{port}{path}"
    done = podman("exec", container, "python3", "-c", FETCH, url, check=False)
    assert done.returncode == 0, done.stderr
    status, _, body = done.stdout.partition("\n")
    return int(status), body


@pytest.fixture(scope="module")
def agent_pod_running(image: str, seed_pod: dict[str, Any]) -> Iterator[AgentPod]:
    """The agent's pod running DaemonSet-style; ready once the scanner's first scan is in."""
    with agent_pod(render(PODMAN_NODE), image) as running:
        deadline = time.monotonic() + 90
        while http_get(running.server, "/readyz")[0] != 200:
            assert time.monotonic() < deadline, running.logs()
            time.sleep(1)
        yield running


@pytest.fixture(scope="module")
def agent(agent_pod_running: AgentPod) -> str:
    """The server container of the running agent pod: where the pod's ports answer."""
    return agent_pod_running.server


def samples(body: str, family: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for metric in text_string_to_metric_families(body)
        if metric.name == family
        for sample in metric.samples
    ]


def test_metrics_show_the_seed_pods_sharing(agent: str) -> None:
    status, body = http_get(agent, "/metrics")
    assert status == 200
    shared = {
        (labels["container"], labels["ns_type"]): value
        for labels, value in samples(body, "nsinspect_container_namespace_shared")
        if labels["pod"] == SEED
    }
    for container in SEED_CONTAINERS:
        for ns_type in POD_SHARED:
            assert shared[(container, ns_type)] == 1.0, (container, ns_type)
        assert shared[(container, "pid")] == 0.0, container
    [(sandbox, _)] = [s for s in samples(body, "nsinspect_pod_sandbox_info") if s[0]["pod"] == SEED]
    assert sandbox["runtime"] == "podman"
    assert sandbox["sandbox_process"] == "present"


def test_agent_exports_what_the_alerts_and_dashboard_read(agent: str) -> None:
    _, body = http_get(agent, "/metrics")
    exported = {metric.name for metric in text_string_to_metric_families(body)}
    # the parser names a counter by its family, without _total
    exported |= {f"{name}_total" for name in exported}
    missing = families_used(rule_expressions() + dashboard_expressions()) - exported
    # Only an agent that uses Kubernetes has it; podman runs the pod with no API server
    # (tests/integration/test_kube_intent.py and test_metrics_detail.py check it either way).
    assert missing <= {"nsinspect_kube_api_up"}, missing
    assert "nsinspect_kube_api_up" not in exported


def test_health_probes_and_api_answer(agent: str) -> None:
    for path in ("/healthz", "/readyz", "/livez"):
        assert http_get(agent, path)[0] == 200, path
    status, body = http_get(agent, "/api/v1/pods", API_PORT)
    assert status == 200
    assert SEED in {item["pod"]["name"] for item in json.loads(body)["items"]}
    # The pod IP's port serves metrics and health only; the API port no metrics.
    assert http_get(agent, "/api/v1/pods")[0] == 404
    assert http_get(agent, "/metrics", API_PORT)[0] == 404


def test_the_listening_process_is_nobody_and_the_scanner_listens_on_nothing(
    agent_pod_running: AgentPod,
) -> None:
    """The process facts of issue K in the running pod, from the node's /proc: the socket bound
    to the metrics port belongs to a uid-65534 process with no capability; no process of the
    scanner container holds a TCP or UDP socket."""
    server_pid = agent_pod_running.pid(agent_pod_running.server)
    sockets = inet_sockets(server_pid)  # the pod's network namespace
    listening = {inode: port for inode, (_, port, state) in sockets.items() if state == LISTEN}
    assert {METRICS_PORT, API_PORT} <= set(listening.values()), listening
    owners: dict[int, list[int]] = {}
    for container in (agent_pod_running.server, agent_pod_running.scanner):
        for pid in container_pids(container):
            for inode in socket_inodes(pid) & set(listening):
                owners.setdefault(listening[inode], []).append(pid)
    for port in (METRICS_PORT, API_PORT):
        assert owners.get(port), (port, owners)
        for pid in owners[port]:
            status = process_status(pid)
            assert status["Uid"].split() == [NOBODY] * 4, (port, pid)
            assert int(status["CapEff"], 16) == 0, (port, pid)
            assert status["NoNewPrivs"].strip() == "1"
    scanner_pids = container_pids(agent_pod_running.scanner)
    assert scanner_pids
    assert int(process_status(agent_pod_running.pid(agent_pod_running.scanner))["CapEff"], 16) == (
        SYS_PTRACE
    )
    for pid in scanner_pids:
        held = socket_inodes(pid) & set(sockets)
        assert not held, (pid, [sockets[inode] for inode in held])


RESULTS_FACTS = """
import os, sys
root = "/run/nsinspect"
try:
    open(os.path.join(root, "written-by-the-server"), "w")
except OSError as error:
    print(error.errno)
for name in ("heartbeat.json", "current", "detail.sock"):
    info = os.lstat(os.path.join(root, name))
    print(name, info.st_gid)
"""


def test_the_server_reads_the_results_and_cannot_write_them(agent_pod_running: AgentPod) -> None:
    done = podman("exec", agent_pod_running.server, "python3", "-c", RESULTS_FACTS, check=False)
    assert done.returncode == 0, done.stderr
    first, *files = done.stdout.splitlines()
    assert first == str(errno.EROFS)  # the read-only mount
    for line in files:
        name, gid = line.split()
        assert gid == NOBODY, name  # the pod's fsGroup: the server's group reads it


K3S_STATE = "/run/k3s/containerd"


@pytest.fixture(scope="module")
def k3s_layout_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CriNode, CriPod]]:
    """containerd with k3s's socket and state (/run/k3s/containerd) and one pod, created over
    CRI as kubelet does; one such node on a machine at a time."""
    if os.path.lexists("/run/k3s"):
        pytest.skip("/run/k3s exists: a k3s-layout node already runs on this machine")
    node = CriNode(
        tmp_path_factory.mktemp("k3s-layout"),
        socket=f"{K3S_STATE}/containerd.sock",
        state_dir=K3S_STATE,
    )
    try:
        node.start()
        name = f"nsi-k3s-{uuid.uuid4().hex[:6]}"
        spec = PodSpec(name, CRI_SEED_CONTAINERS, namespace="nsi-deploy")
        yield node, node.run_pod(spec)
    finally:
        node.stop()


@pytest.mark.containerd
def test_k3s_overlay_finds_the_pods_of_a_k3s_layout_node(
    image: str, k3s_layout_node: tuple[CriNode, CriPod]
) -> None:
    """The agent's container, run as deploy/overlays/k3s runs it and with no flags, names the pod
    that containerd at /run/k3s/containerd runs, and says where it found containerd."""
    node, pod = k3s_layout_node
    documents = render("overlays/k3s")
    done = podman(
        "run", "--rm", *podman_run_flags(documents), image, "pods", "-o", "json", check=False
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    [report] = [item for item in document["items"] if item["pod"]["uid"] == pod.uid]
    assert report["pod"]["name"] == pod.spec.name
    assert report["pod"]["namespace"] == pod.spec.namespace
    assert report["pod"]["runtime"] == "containerd"
    assert report["sandbox"]["id"] == pod.sandbox_id
    assert node.status(pod).status.id == pod.sandbox_id  # the CRI's own answer
    containers = {c["name"]: c["id"] for c in report["containers"]}
    assert containers == pod.container_ids
    found = {
        (location["what"], location["path"]): location
        for location in document["runtimes"]
        if location["runtime"] == "containerd"
    }
    for what, path in (("cri-socket", node.socket), ("state-dir", K3S_STATE)):
        assert found[(what, path)]["readable"] is True, found
