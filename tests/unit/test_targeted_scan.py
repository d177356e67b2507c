"""The targeted scan of one pod (agent/scanner/targeted.py) on fake proc trees: the same pod as
a full scan finds, and no answer at all (the full scan then answers) wherever what it read
cannot settle the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import fakenode
from harness.fakepodman import podman_cgroup
from harness.fakeproc import HOST_NS, FakeProc, nsfs_mount_line
from nsinspect.agent.scanner import NodeReports, ScanConfig, SnapshotBuilder
from nsinspect.agent.scanner.targeted import TargetedScan

NET_A, NET_B = 4026532100, 4026532200
UID = "3f1c0a52-7a4e-4d6b-9e38-2b7c5d9e1a07"
# A's sandbox has a pid namespace of its own; one of B's containers runs in it.
PID_A = 4026532150


def pod_namespaces(net: int, **more: int) -> dict[str, int]:
    return {"net": net, "ipc": net + 1, "uts": net + 2, **more}


@pytest.fixture
def node(tmp_path: Path) -> FakeProc:
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "systemd", ppid=0, start_time=1)
    proc.add(50, "sshd", start_time=5)
    # Pod A: its holder, and a container that joined it from outside its tree (ppid 1).
    proc.add(100, "pause", start_time=10, namespaces=pod_namespaces(NET_A, pid=PID_A))
    proc.add(101, "nginx", start_time=11,
             namespaces=pod_namespaces(NET_A, pid=PID_A + 1, mnt=PID_A + 2))  # fmt: skip
    # Pod B: its holder, a container of its own, and one in A's pid namespace.
    proc.add(200, "pause", start_time=20, namespaces=pod_namespaces(NET_B))
    proc.add(201, "app", start_time=21,
             namespaces=pod_namespaces(NET_B, pid=NET_B + 3, mnt=NET_B + 4))  # fmt: skip
    proc.add(202, "sidecar", start_time=22,
             namespaces=pod_namespaces(NET_B, pid=PID_A, mnt=NET_B + 5))  # fmt: skip
    return proc


def config(node: FakeProc) -> ScanConfig:
    return ScanConfig(proc_root=str(node.root), host_root=str(node.root.parent), node_name="n")


def report(reports: NodeReports, name: str) -> dict[str, Any]:
    pod = reports.find("", name)
    assert pod is not None, reports.pod_names()
    document = reports.pod_report(pod, contents=False).to_json()
    del document["taken_at"]
    return document


@pytest.mark.parametrize("net", [NET_A, NET_B])
def test_the_pod_is_the_one_a_full_scan_finds(node: FakeProc, net: int) -> None:
    name = f"net-{net}"
    targeted = TargetedScan(config(node)).snapshot(name, None)
    assert targeted is not None
    full = NodeReports(SnapshotBuilder(config(node)).build())
    assert report(NodeReports(targeted), name) == report(full, name)


def test_a_container_in_another_pods_sandbox_namespace_is_other(node: FakeProc) -> None:
    targeted = TargetedScan(config(node)).snapshot(f"net-{NET_B}", None)
    assert targeted is not None
    # Pod A was read because its holder is in a namespace of B's: it owns that namespace.
    assert {100, 101} <= set(targeted.processes)
    sidecar = next(
        c for c in report(NodeReports(targeted), f"net-{NET_B}")["containers"] if c["pid"] == 202
    )
    assert sidecar["namespaces"]["pid"] == {
        "inode": PID_A, "verdict": "other", "shared_with_sandbox": False,
        "other_pod": f"net-{NET_A}",
    }  # fmt: skip


def test_only_what_the_pod_needs_is_read_whole(node: FakeProc) -> None:
    net_c = 4026532300
    node.add(300, "pause", start_time=30, namespaces=pod_namespaces(net_c))
    node.add(301, "db", start_time=31,
             namespaces=pod_namespaces(net_c, pid=net_c + 3, mnt=net_c + 4))  # fmt: skip
    targeted = TargetedScan(config(node)).snapshot(f"net-{NET_A}", None)
    assert targeted is not None
    # Pod B's group is read too: one of its processes is in A's sandbox's pid namespace, and
    # only its group tells whether that one is a sandbox. Not sshd, not pod C.
    assert set(targeted.processes) == {1, 100, 101, 200, 201, 202}
    targeted = TargetedScan(config(node)).snapshot(f"net-{net_c}", None)
    assert targeted is not None
    assert set(targeted.processes) == {1, 300, 301}


def test_an_unreadable_link_anywhere_leaves_it_to_the_full_scan(node: FakeProc) -> None:
    node.add(60, "cron", start_time=6, unreadable=["net"])
    assert TargetedScan(config(node)).snapshot(f"net-{NET_A}", None) is None


def test_a_pinned_network_namespace_leaves_it_to_the_full_scan(node: FakeProc) -> None:
    node.set_mountinfo(1, [nsfs_mount_line(30, "net", NET_A, "/run/netns/cni-1234")])
    assert TargetedScan(config(node)).snapshot(f"net-{NET_A}", None) is None
    # The other pod's name is still its own.
    assert TargetedScan(config(node)).snapshot(f"net-{NET_B}", None) is not None


def test_a_process_in_a_containers_cgroup_leaves_it_to_the_runtimes(node: FakeProc) -> None:
    cid = "a" * 64
    node.add(102, "worker", start_time=12, namespaces=pod_namespaces(NET_A),
             cgroup=f"0::/kubepods/besteffort/pod{UID}/{cid}")  # fmt: skip
    assert TargetedScan(config(node)).snapshot(f"net-{NET_A}", None) is None


@pytest.mark.parametrize(
    ("name", "namespace"),
    [("my-nginx-pod", None), (f"net-{NET_A}", "default"), ("net-0123", None), ("net-", None)],
)
def test_other_names_leave_it_to_the_full_scan(
    node: FakeProc, name: str, namespace: str | None
) -> None:
    assert TargetedScan(config(node)).snapshot(name, namespace) is None


def test_the_nodes_own_network_is_no_pod(node: FakeProc) -> None:
    assert TargetedScan(config(node)).snapshot(f"net-{HOST_NS['net']}", None) is None


@pytest.fixture
def podman_node(tmp_path: Path) -> fakenode.Node:
    """The fake node's podman seed pod, and pod B whose app is in the seed's network."""
    node = fakenode.Node(tmp_path)
    node.seed_pod()
    node.proc.add(50, "sshd", start_time=5)
    node.podman.add_pod(fakenode.POD_B, "intruder")
    node.podman.add_container(fakenode.INFRA_B, "b-infra")
    node.podman.add_container(fakenode.APP_B, "intruder-app", sandbox_id=fakenode.INFRA_B)
    own = {"net": fakenode.NET_B, "ipc": fakenode.IPC_B, "uts": fakenode.UTS_B}
    node.proc.add(400, "catatonit", start_time=40, namespaces=own,
                  cgroup=podman_cgroup(fakenode.POD_B, fakenode.INFRA_B))  # fmt: skip
    node.proc.add(410, "sleep", start_time=41,
                  namespaces=own | {"net": fakenode.NET_A, "pid": 4026532880, "mnt": 4026532881},
                  cgroup=podman_cgroup(fakenode.POD_B, fakenode.APP_B))  # fmt: skip
    return node


def podman_config(node: fakenode.Node) -> ScanConfig:
    return ScanConfig(proc_root=str(node.proc.root), host_root=str(node.host_root), node_name="n1")


@pytest.mark.parametrize("name", ["my-nginx-pod", "intruder"])
def test_a_runtimes_pod_is_the_one_a_full_scan_finds(podman_node: fakenode.Node, name: str) -> None:
    config = podman_config(podman_node)
    targeted = TargetedScan(config).snapshot(name, None)
    assert targeted is not None
    assert 50 not in targeted.processes  # sshd: in no pod, in no namespace of theirs
    full = NodeReports(SnapshotBuilder(config).build())
    assert report(NodeReports(targeted), name) == report(full, name)


def test_a_runtimes_pod_in_another_pods_network_is_other(podman_node: fakenode.Node) -> None:
    targeted = TargetedScan(podman_config(podman_node)).snapshot("intruder", None)
    assert targeted is not None
    app = report(NodeReports(targeted), "intruder")["containers"][0]
    assert app["namespaces"]["net"]["verdict"] == "other"
    assert app["namespaces"]["net"]["other_pod"] == "my-nginx-pod"


def test_a_netns_pinned_under_the_pods_name_leaves_it_to_the_full_scan(
    podman_node: fakenode.Node,
) -> None:
    pin = nsfs_mount_line(30, "net", fakenode.NET_B, "/run/netns/my-nginx-pod")
    podman_node.proc.set_mountinfo(1, [pin])
    assert TargetedScan(podman_config(podman_node)).snapshot("my-nginx-pod", None) is None


def test_a_pod_known_from_its_cgroup_alone_leaves_it_to_the_full_scan(
    podman_node: fakenode.Node,
) -> None:
    # kubelet's layout, no runtime that knows the container: the API server may name the pod.
    podman_node.proc.add(500, "app", start_time=50,
                         cgroup=f"0::/kubepods/besteffort/pod{UID}/{'c' * 64}")  # fmt: skip
    assert TargetedScan(podman_config(podman_node)).snapshot("my-nginx-pod", None) is None


def test_an_unknown_name_or_namespace_leaves_it_to_the_full_scan(
    podman_node: fakenode.Node,
) -> None:
    config = podman_config(podman_node)
    assert TargetedScan(config).snapshot("nope", None) is None
    assert TargetedScan(config).snapshot("my-nginx-pod", "default") is None
