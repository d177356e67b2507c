"""Every finding code made to happen on a fake node, and absent on a healthy pod."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.fakenode import (
    APP_B,
    INFRA_A,
    INFRA_B,
    IPC_B,
    NET_A,
    NET_B,
    NGINX,
    POD_A,
    POD_B,
    SIDECAR,
    UTS_B,
    Node,
)
from harness.fakepodman import podman_cgroup
from harness.fakeproc import nsfs_mount_line
from nsinspect.agent.model import Finding, PodIntent, PodRef
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder


@pytest.fixture
def node(tmp_path: Path) -> Node:
    fake = Node(tmp_path)
    fake.seed_pod()
    return fake


OWN_PID_MNT = {"pid": 4026532880, "mnt": 4026532881}  # what every app container has of its own


def codes(findings: tuple[Finding, ...]) -> list[tuple[str, str, str, str]]:
    return [(f.code, f.severity, f.container, f.ns_type) for f in findings]


def test_healthy_seed_pod_has_no_findings(node: Node) -> None:
    assert node.snapshot().findings == ()


def test_container_not_in_pod_network_ipc_uts(node: Node) -> None:
    node.proc.add(
        310,
        "httpd",
        start_time=20,
        namespaces={"net": 4026532990, "ipc": 4026532991, "uts": 4026532992} | OWN_PID_MNT,
        cgroup=podman_cgroup(POD_A, NGINX),
    )
    found = node.snapshot().findings
    assert codes(found) == [
        ("ContainerNotInPodNetwork", "critical", "my-nginx-container", "net"),
        ("ContainerNotInPodIPC", "warning", "my-nginx-container", "ipc"),
        ("ContainerNotInPodUTS", "warning", "my-nginx-container", "uts"),
    ]
    assert found[0].evidence["container_inode"] == 4026532990
    assert found[0].evidence["sandbox_inode"] == NET_A
    assert "net:[4026532990] instead of the sandbox's net:[4026532177]" in found[0].message


def test_not_in_pod_is_not_reported_where_the_pod_asked_for_its_own(node: Node) -> None:
    """podman `--share net`: ipc and uts of the container's own are what was asked for."""
    node.podman.add_pod(POD_A, "my-nginx-pod", shares=("Net",))
    node.proc.add(
        310,
        "httpd",
        start_time=20,
        namespaces={"net": NET_A, "ipc": 4026532991, "uts": 4026532992} | OWN_PID_MNT,
        cgroup=podman_cgroup(POD_A, NGINX),
    )
    node.proc.add(
        320,
        "tail",
        start_time=30,
        namespaces={"net": NET_A, "ipc": 4026532993, "uts": 4026532994} | OWN_PID_MNT,
        cgroup=podman_cgroup(POD_A, SIDECAR),
    )
    assert node.snapshot().findings == ()


def test_sandbox_missing(node: Node) -> None:
    node.proc.remove(300)
    found = node.snapshot().findings
    assert codes(found) == [("SandboxMissing", "critical", "", "")]
    assert found[0].evidence["sandbox_id"] == INFRA_A


def test_host_namespace_shared(node: Node) -> None:
    node.podman.add_pod(POD_B, "hostnet")
    node.podman.add_container(INFRA_B, "b-infra", namespaces={"ipc": "", "uts": "", "pid": ""})
    node.podman.add_container(APP_B, "hostnet-app", sandbox_id=INFRA_B)
    node.proc.add(
        400,
        "catatonit",
        namespaces={"ipc": IPC_B, "uts": UTS_B},
        cgroup=podman_cgroup(POD_B, INFRA_B),
    )
    node.proc.add(
        410,
        "sleep",
        namespaces={"ipc": IPC_B, "uts": UTS_B} | OWN_PID_MNT,
        cgroup=podman_cgroup(POD_B, APP_B),
    )
    found = [f for f in node.snapshot().findings if f.pod == PodRef("", "hostnet")]
    # hostNetwork brings the node's UTS too; one finding says both.
    assert codes(found) == [("HostNamespaceShared", "warning", "", "net")]
    assert "hostNetwork" in found[0].message


def test_cross_pod_namespace(node: Node) -> None:
    node.podman.add_pod(POD_B, "intruder")
    node.podman.add_container(INFRA_B, "b-infra")
    node.podman.add_container(APP_B, "intruder-app", sandbox_id=INFRA_B)
    own = {"net": NET_B, "ipc": IPC_B, "uts": UTS_B}
    node.proc.add(400, "catatonit", namespaces=own, cgroup=podman_cgroup(POD_B, INFRA_B))
    node.proc.add(
        410,
        "sleep",
        namespaces=own | {"net": NET_A} | OWN_PID_MNT,
        cgroup=podman_cgroup(POD_B, APP_B),
    )
    found = [f for f in node.snapshot().findings if f.pod == PodRef("", "intruder")]
    # Outside its own pod's network (critical), and inside another pod's: both are said.
    assert codes(found) == [
        ("ContainerNotInPodNetwork", "critical", "app", "net"),
        ("CrossPodNamespace", "warning", "app", "net"),
    ]
    assert found[1].evidence["other_pod"] == "my-nginx-pod"


def test_intent_mismatch_from_the_pod_spec(node: Node) -> None:
    intent = PodIntent(share_process_namespace=True, container_names=("a", "b"))
    builder = SnapshotBuilder(
        ScanConfig(proc_root=str(node.proc.root), host_root=str(node.host_root)),
        intents=lambda: {POD_A: intent},
    )
    found = builder.build().findings
    assert codes(found) == [
        ("IntentMismatch", "warning", "my-nginx-container", "pid"),
        ("IntentMismatch", "warning", "ubuntu-sidecar-container", "pid"),
    ]
    assert found[0].evidence == {
        "expected": "POD", "actual": "CONTAINER", "source": "kubernetes", "inode": 4026532255,
    }  # fmt: skip


def test_intent_mismatch_from_the_runtime_request(node: Node) -> None:
    """The pod asked podman for a shared pid namespace; the container has its own."""
    node.podman.add_pod(POD_A, "my-nginx-pod", shares=("Net", "Ipc", "Uts", "Pid"))
    found = node.snapshot().findings
    assert {(f.code, f.ns_type) for f in found} == {("IntentMismatch", "pid")}
    assert found[0].evidence["source"] == "podman"


def test_orphan_namespace(node: Node) -> None:
    node.proc.set_mountinfo(1, [nsfs_mount_line(40, "net", 4026532777, "/run/netns/cni-leaked")])
    found = node.snapshot().findings
    assert codes(found) == [("OrphanNamespace", "info", "", "net")]
    assert found[0].evidence == {"inode": 4026532777, "path": "/run/netns/cni-leaked"}


def test_a_pinned_namespace_in_use_is_not_an_orphan(node: Node) -> None:
    node.proc.set_mountinfo(1, [nsfs_mount_line(40, "net", NET_A, "/run/netns/netns-seed")])
    assert node.snapshot().findings == ()
