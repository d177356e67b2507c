"""The agent image: built by deploy/image/build.sh, run as the DaemonSet runs it, against the
seed pod under podman on this machine.

Slow on a cold machine: the first build makes the Debian base with debootstrap and installs the
dependencies from the package index (about three minutes); with the base and podman's layer cache
in place a build takes seconds to a minute.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.cri_fixtures import SEED_CONTAINERS as CRI_SEED_CONTAINERS
from harness.cri_node import CriNode, CriPod, PodSpec
from harness.daemonset_run import agent_arguments, podman_run_flags
from harness.manifests import PODMAN_NODE, REPO, render
from harness.monitoring import dashboard_expressions, families_used, rule_expressions
from harness.podman import SEED_CONTAINERS, kube_play, pod_yaml, podman

pytestmark = [pytest.mark.root, pytest.mark.podman, pytest.mark.kubectl, pytest.mark.slow]

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"localhost/nsinspect:{VERSION}"
BUILD = REPO / "deploy" / "image" / "build.sh"
SEED = "my-nginx-pod"
SYS_PTRACE = 1 << 19  # capability number 19, as /proc/<pid>/status prints the sets
POD_SHARED = ("net", "ipc", "uts")  # what kube play's pods share with the infra container


def build() -> tuple[str, float]:
    """Run build.sh; its last line and how long it took."""
    started = time.monotonic()
    done = subprocess.run([str(BUILD)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1], time.monotonic() - started


def image_id() -> str:
    return podman("image", "inspect", "--format", "{{.Id}}", IMAGE).stdout.strip()


@pytest.fixture(scope="module")
def image() -> str:
    last_line, _ = build()
    assert re.fullmatch(rf"built {re.escape(IMAGE)}: \d+ MB", last_line), last_line
    return IMAGE


@pytest.fixture(scope="module")
def seed_pod() -> Iterator[dict[str, Any]]:
    """The seed example's pod: the one running here is used as it is, else one is played."""
    with kube_play(pod_yaml(SEED, SEED_CONTAINERS)) as inspected:
        yield inspected


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


def test_runs_with_only_the_daemonsets_privileges(image: str) -> None:
    flags = podman_run_flags(render(PODMAN_NODE))
    done = podman(
        "run", "--rm", "--entrypoint=cat", *flags, image, "/proc/self/status", check=False
    )
    assert done.returncode == 0, done.stderr
    fields = dict(line.split(":\t", 1) for line in done.stdout.splitlines() if ":\t" in line)
    assert int(fields["CapEff"], 16) == SYS_PTRACE
    assert int(fields["CapBnd"], 16) == SYS_PTRACE
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"  # a filter is loaded


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


def http_get(container: str, path: str) -> tuple[int, str]:
    """GET from inside the agent's container, as the kubelet's probes do; 0 if nothing listens."""
    url = f"http://127.0.0.1:9977{path}"
    done = podman("exec", container, "python3", "-c", FETCH, url, check=False)
    assert done.returncode == 0, done.stderr
    status, _, body = done.stdout.partition("\n")
    return int(status), body


@pytest.fixture(scope="module")
def agent(image: str, seed_pod: dict[str, Any]) -> Iterator[str]:
    """`nsinspect agent` running DaemonSet-style; ready once its first scan is in."""
    documents = render(PODMAN_NODE)
    name = f"nsinspect-deploy-test-{uuid.uuid4().hex[:8]}"
    podman(
        "run",
        "--detach",
        f"--name={name}",
        *podman_run_flags(documents),
        image,
        *agent_arguments(documents),
    )
    try:
        deadline = time.monotonic() + 90
        while http_get(name, "/readyz")[0] != 200:
            assert time.monotonic() < deadline, podman("logs", name).stderr[-2000:]
            time.sleep(1)
        yield name
    finally:
        podman("rm", "--force", "--time=0", name, check=False)


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
    assert not missing


def test_health_probes_and_api_answer(agent: str) -> None:
    assert http_get(agent, "/healthz")[0] == 200
    assert http_get(agent, "/readyz")[0] == 200
    status, body = http_get(agent, "/api/v1/pods")
    assert status == 200
    assert SEED in {item["pod"]["name"] for item in json.loads(body)["items"]}


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
