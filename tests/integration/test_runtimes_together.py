"""Through the real `nsinspect` entry point: containerd's CRI pods, and podman's beside them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from harness.cri_node import CriNode, CriPod
from harness.podman import kube_play, pod_yaml
from harness.synthetic import readlink_inode
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

pytestmark = [pytest.mark.root, pytest.mark.containerd]

PODMAN_POD = "nsi-podman-beside-cri"


def nsinspect(node: CriNode, *args: str) -> subprocess.CompletedProcess[str]:
    # Both places given: any other containerd running on the machine (another test session's
    # node) is then neither asked nor read, though found from its processes.
    flags = ["--cri-socket", node.socket, "--runtime-state", f"containerd={node.state_dir}"]
    command = ["nsinspect", *flags, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def json_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize("key", ["seed", "shared-pid", "host-network", "host-pid-ipc"])
def test_cli_pod_reports_a_cri_pod(
    cri_node: CriNode, cri_pods: dict[str, CriPod], key: str
) -> None:
    pod = cri_pods[key]
    report = json_of(nsinspect(cri_node, "pod", pod.spec.name, "-n", "default", "-o", "json"))
    assert report["pod"] == {
        "namespace": "default",
        "name": pod.spec.name,
        "uid": pod.uid,
        "runtime": "containerd",
        "source": "cri",
        "labels": pod.spec.labels,  # the sandbox's, less the keys kubelet adds
    }
    assert report["sandbox"]["id"] == pod.sandbox_id
    assert report["sandbox"]["process"] == "present"
    sandbox_pid = report["sandbox"]["pid"]
    assert json.loads(cri_node.status(pod).info["info"])["pid"] == sandbox_pid
    assert {c["name"]: c["id"] for c in report["containers"]} == pod.container_ids
    assert report["requested"] == {
        "net": pod.spec.network,
        "ipc": pod.spec.ipc,
        "pid": pod.spec.pid,
    }
    for container in report["containers"]:
        for ns_type, verdict in container["namespaces"].items():
            if ns_type.endswith("_for_children"):
                continue
            truth = readlink_inode(container["pid"], ns_type)
            assert verdict["inode"] == truth, (container["name"], ns_type)
            in_sandbox = truth == readlink_inode(sandbox_pid, ns_type)
            assert verdict["shared_with_sandbox"] == in_sandbox, (container["name"], ns_type)


def test_cli_pod_table_names_runtime_and_source(
    cri_node: CriNode, cri_pods: dict[str, CriPod]
) -> None:
    result = nsinspect(cri_node, "pod", "my-nginx-pod", "-n", "default")
    assert result.returncode == 0, result.stderr
    assert "containerd (decided by cri)" in result.stdout
    lines = result.stdout.splitlines()
    for name in ("my-nginx-container", "ubuntu-sidecar-container"):
        row = next(line.split() for line in lines if line.startswith(name))
        # net ipc uts shared, pid and mnt private, user cgroup time the node's
        assert row[2:10] == ["pod", "pod", "pod", "private", "private", "host", "host", "host"]


@pytest.fixture(scope="module")
def podman_pod() -> Iterator[dict[str, Any]]:
    manifest = pod_yaml(PODMAN_POD, {"app": ["tail", "-f", "/dev/null"]})
    with kube_play(manifest) as inspected:
        yield inspected


@pytest.mark.podman
def test_podman_and_containerd_pods_side_by_side(
    cri_node: CriNode, cri_pods: dict[str, CriPod], podman_pod: dict[str, Any]
) -> None:
    snapshot = SnapshotBuilder(ScanConfig(cri_sockets=(cri_node.socket,))).build()
    by_uid = {pod.uid: pod for pod in snapshot.pods}
    podman = by_uid[podman_pod["Id"]]
    assert (podman.name, podman.namespace, podman.runtime) == (PODMAN_POD, "", "podman")
    assert podman.sandbox.id == podman_pod["InfraContainerID"]
    for cri_pod in cri_pods.values():
        found = by_uid[cri_pod.uid]
        assert (found.name, found.namespace, found.runtime) == (
            cri_pod.spec.name,
            "default",
            "containerd",
        )
    assert snapshot.runtimes_read["podman"] is True
    assert snapshot.runtimes_read[f"cri:{cri_node.socket}"] is True
    # Each pod's processes are its own: no pid is claimed twice.
    claimed = [pid for pod in snapshot.pods for c in pod.containers for pid in c.pids]
    assert len(claimed) == len(set(claimed))

    listing = json_of(nsinspect(cri_node, "pods", "-o", "json"))
    read = {(r["what"], r["path"]): r["readable"] for r in listing["runtimes"]}
    assert read[("cri-socket", cri_node.socket)] is True
    assert read[("state-dir", "/var/lib/containers/storage")] is True  # podman's
    runtimes = {
        (i["pod"]["namespace"], i["pod"]["name"]): i["pod"]["runtime"] for i in listing["items"]
    }
    assert runtimes[("", PODMAN_POD)] == "podman"
    assert all(runtimes[("default", p.spec.name)] == "containerd" for p in cri_pods.values())
    wide = nsinspect(cri_node, "pods", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    rows = [line.split() for line in wide.stdout.splitlines()]
    assert ["-", PODMAN_POD, "podman"] in [row[:3] for row in rows]
    assert ["default", "my-nginx-pod", "containerd"] in [row[:3] for row in rows]


def test_a_name_in_two_namespaces_is_ambiguous_without_n(
    cri_node: CriNode, cri_pods: dict[str, CriPod]
) -> None:
    """containerd's seed pod is default/my-nginx-pod; a podman pod of that name has none."""
    with kube_play(pod_yaml("my-nginx-pod", {"app": ["sleep", "100000"]})):
        result = nsinspect(cri_node, "pod", "my-nginx-pod")
        assert result.returncode == 1
        assert 'pod name "my-nginx-pod" is ambiguous on this node' in result.stderr
        assert "default/my-nginx-pod" in result.stderr
        assert "my-nginx-pod (no namespace)" in result.stderr
        assert '-n NAMESPACE (-n "" for the one with no namespace)' in result.stderr
        chosen = json_of(nsinspect(cri_node, "pod", "my-nginx-pod", "-n", "default", "-o", "json"))
        assert chosen["pod"]["runtime"] == "containerd"
        unnamespaced = json_of(nsinspect(cri_node, "pod", "my-nginx-pod", "-n", "", "-o", "json"))
        assert unnamespaced["pod"]["runtime"] == "podman"
