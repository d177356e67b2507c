"""Real podman pods from Pod YAML: every verdict against readlink(1) and podman's own inspect."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from harness.podman import (
    SEED_CONTAINERS,
    container_inspect,
    ensure_busybox_image,
    kube_play,
    pod_inspect,
    pod_yaml,
    podman,
    remove_pod,
)
from harness.synthetic import readlink_inode
from nsinspect.agent.model import Pod, Verdict
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

pytestmark = [pytest.mark.root, pytest.mark.podman]

JOINABLE = ("net", "ipc", "uts", "pid")
# `podman pod inspect` SharedNamespaces -> our namespace types
PODMAN_NS = {"net": "net", "ipc": "ipc", "uts": "uts", "pid": "pid"}


def scan_pod(name: str) -> Pod:
    snapshot = SnapshotBuilder(ScanConfig()).build()
    found = [p for p in snapshot.pods if p.name == name and p.runtime == "podman"]
    assert len(found) == 1, [p.name for p in snapshot.pods]
    return found[0]


def assert_matches_truth(pod: Pod, inspected: dict[str, Any]) -> None:
    """Verdicts against readlink, and the pod's identity against `podman pod inspect`."""
    assert pod.uid == inspected["Id"]
    assert pod.sandbox.id == inspected["InfraContainerID"]
    infra_pid = container_inspect(inspected["InfraContainerID"])["State"]["Pid"]
    assert pod.sandbox.pid == infra_pid
    apps = [c for c in inspected["Containers"] if c["Id"] != inspected["InfraContainerID"]]
    assert sorted(c.identity.id for c in pod.containers) == sorted(c["Id"] for c in apps)
    shared = {PODMAN_NS[t] for t in inspected.get("SharedNamespaces") or [] if t in PODMAN_NS}
    for container in pod.containers:
        real_pid = container_inspect(container.identity.id)["State"]["Pid"]
        assert container.pid == real_pid
        assert container.name == container_inspect(container.identity.id)["Name"].removeprefix(
            f"{pod.name}-"
        )
        for ns_type in ("net", "ipc", "uts", "pid", "mnt", "user", "cgroup", "time"):
            truth = readlink_inode(real_pid, ns_type)
            verdict = container.namespaces[ns_type]
            assert verdict.inode == truth, ns_type
            sandbox_truth = readlink_inode(infra_pid, ns_type)
            assert verdict.shared_with_sandbox == (truth == sandbox_truth), ns_type
            if truth == readlink_inode(2, ns_type):
                assert verdict.verdict is Verdict.HOST, ns_type
            elif truth == sandbox_truth:
                assert verdict.verdict is Verdict.POD, ns_type
            else:
                assert verdict.verdict is Verdict.PRIVATE, ns_type
        # What podman says it shares is what the kernel shows (for pods not on the host's net).
        for ns_type in JOINABLE:
            if container.namespaces[ns_type].verdict is not Verdict.HOST:
                assert container.namespaces[ns_type].shared_with_sandbox == (ns_type in shared)


@pytest.fixture(scope="module")
def seed_pod() -> Iterator[dict[str, Any]]:
    with kube_play(pod_yaml("my-nginx-pod", SEED_CONTAINERS)) as inspected:
        yield inspected


def test_seed_pod_from_pod_yaml(seed_pod: dict[str, Any]) -> None:
    pod = scan_pod("my-nginx-pod")
    assert_matches_truth(pod, seed_pod)
    assert [c.name for c in pod.containers] == ["my-nginx-container", "ubuntu-sidecar-container"]
    for container in pod.containers:
        judged = {t: v.verdict for t, v in container.namespaces.items()}
        assert judged["net"] == judged["ipc"] == judged["uts"] == Verdict.POD
        assert judged["pid"] == judged["mnt"] == Verdict.PRIVATE
    assert pod.requested == {"net": "POD", "ipc": "POD", "uts": "POD", "pid": "CONTAINER"}


def test_pod_sharing_only_the_network() -> None:
    ensure_busybox_image()
    remove_pod("nsi-netonly")
    podman("pod", "create", "--name", "nsi-netonly", "--share", "net")
    try:
        podman(
            "run",
            "-d",
            "--pod",
            "nsi-netonly",
            "--name",
            "nsi-netonly-app",
            "localhost/busybox:latest",
            "sleep",
            "100000",
        )
        pod = scan_pod("nsi-netonly")
        assert_matches_truth(pod, pod_inspect("nsi-netonly"))
        judged = {t: v.verdict for t, v in pod.containers[0].namespaces.items()}
        assert judged["net"] is Verdict.POD
        assert judged["ipc"] == judged["uts"] == judged["pid"] == Verdict.PRIVATE
        assert pod.containers[0].name == "app"
    finally:
        remove_pod("nsi-netonly")


def test_host_network_pod() -> None:
    manifest = pod_yaml("nsi-hostnet", {"app": ["sleep", "100000"]}, hostNetwork=True)
    with kube_play(manifest) as inspected:
        pod = scan_pod("nsi-hostnet")
        assert_matches_truth(pod, inspected)
        net = pod.containers[0].namespaces["net"]
        assert (net.verdict, net.shared_with_sandbox) == (Verdict.HOST, True)
        assert pod.requested["net"] == "NODE"


def test_cli_json_for_the_seed_pod_matches_podman(seed_pod: dict[str, Any]) -> None:
    out = subprocess.run(
        # -n "": the podman pod, not the CRI test node's my-nginx-pod in `default`.
        ["nsinspect", "pod", "my-nginx-pod", "-n", "", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout)
    assert report["apiVersion"] == "nsinspect/v1" and report["kind"] == "PodReport"
    assert report["pod"]["uid"] == seed_pod["Id"]
    for container in report["containers"]:
        pid = container["pid"]
        assert container["namespaces"]["net"]["inode"] == readlink_inode(pid, "net")
        assert container["namespaces"]["net"]["verdict"] == "pod"
        assert container["namespaces"]["pid"]["verdict"] == "private"
