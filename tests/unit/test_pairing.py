"""Pairing and verdicts over fake proc trees and fake podman state on disk (no root needed)."""

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
    POD_A_NS,
    POD_B,
    SIDECAR,
    UTS_B,
    Node,
)
from harness.fakepodman import podman_cgroup
from harness.fakeproc import HOST_NS
from nsinspect.agent.model import Pod, PodRef, SandboxProcess, Snapshot, Verdict


def only_pod(snapshot: Snapshot, name: str) -> Pod:
    found = [pod for pod in snapshot.pods if pod.name == name]
    assert len(found) == 1, [p.name for p in snapshot.pods]
    return found[0]


def verdicts(pod: Pod, container: str) -> dict[str, Verdict]:
    match = next(c for c in pod.containers if c.name == container)
    return {t: v.verdict for t, v in match.namespaces.items()}


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


def test_seed_pod_pairs_infra_with_both_containers(node: Node) -> None:
    node.seed_pod()
    pod = only_pod(node.snapshot(), "my-nginx-pod")
    assert (pod.runtime, pod.evidence, pod.namespace, pod.uid) == (
        "podman",
        "oci-config",
        "",
        POD_A,
    )
    assert (pod.sandbox.id, pod.sandbox.pid, pod.sandbox.process) == (
        INFRA_A,
        300,
        SandboxProcess.PRESENT,
    )
    assert [c.name for c in pod.containers] == ["my-nginx-container", "ubuntu-sidecar-container"]
    for name in ("my-nginx-container", "ubuntu-sidecar-container"):
        judged = verdicts(pod, name)
        assert judged["net"] == judged["ipc"] == judged["uts"] == Verdict.POD
        assert judged["pid"] == judged["mnt"] == Verdict.PRIVATE
        assert judged["user"] == judged["cgroup"] == judged["time"] == Verdict.HOST
    assert pod.requested == {"net": "POD", "ipc": "POD", "uts": "POD", "pid": "CONTAINER"}


def test_host_network_counts_as_host_and_as_shared_with_the_sandbox(node: Node) -> None:
    node.podman.add_pod(POD_B, "hostnet")
    node.podman.add_container(INFRA_B, "b-infra", namespaces={"ipc": "", "uts": "", "pid": ""})
    node.podman.add_container(APP_B, "hostnet-app", sandbox_id=INFRA_B)
    ns = {"ipc": IPC_B, "uts": UTS_B}
    node.proc.add(400, "catatonit", namespaces=ns, cgroup=podman_cgroup(POD_B, INFRA_B))
    node.proc.add(
        410, "sleep", namespaces=ns | {"mnt": 4026532410}, cgroup=podman_cgroup(POD_B, APP_B)
    )
    pod = only_pod(node.snapshot(), "hostnet")
    net = pod.containers[0].namespaces["net"]
    assert (net.verdict, net.shared_with_sandbox, net.inode) == (Verdict.HOST, True, HOST_NS["net"])
    assert pod.requested["net"] == "NODE"


def test_container_outside_its_pods_network_is_private(node: Node) -> None:
    node.seed_pod()
    node.proc.add(
        310,
        "httpd",
        start_time=20,
        namespaces=POD_A_NS | {"net": 4026532999},
        cgroup=podman_cgroup(POD_A, NGINX),
    )
    pod = only_pod(node.snapshot(), "my-nginx-pod")
    net = next(c for c in pod.containers if c.name == "my-nginx-container").namespaces["net"]
    assert (net.verdict, net.shared_with_sandbox) == (Verdict.PRIVATE, False)


def test_container_in_another_pods_namespace_is_other_and_names_that_pod(node: Node) -> None:
    node.seed_pod()
    node.podman.add_pod(POD_B, "intruder")
    node.podman.add_container(INFRA_B, "b-infra")
    node.podman.add_container(APP_B, "intruder-app", sandbox_id=INFRA_B)
    own = {"net": NET_B, "ipc": IPC_B, "uts": UTS_B}
    node.proc.add(400, "catatonit", namespaces=own, cgroup=podman_cgroup(POD_B, INFRA_B))
    node.proc.add(
        410,
        "sleep",
        namespaces=own | {"net": NET_A, "mnt": 4026532410},
        cgroup=podman_cgroup(POD_B, APP_B),
    )
    pod = only_pod(node.snapshot(), "intruder")
    net = pod.containers[0].namespaces["net"]
    assert (net.verdict, net.other_pod) == (Verdict.OTHER, PodRef("", "my-nginx-pod"))


def test_unreadable_namespace_is_unknown_with_its_reason(node: Node) -> None:
    node.seed_pod()
    node.proc.add(
        320,
        "tail",
        start_time=30,
        namespaces=POD_A_NS,
        cgroup=podman_cgroup(POD_A, SIDECAR),
        unreadable=["net"],
    )
    pod = only_pod(node.snapshot(), "my-nginx-pod")
    net = next(c for c in pod.containers if c.name == "ubuntu-sidecar-container").namespaces["net"]
    assert (net.verdict, net.inode, net.reason) == (Verdict.UNKNOWN, None, "EINVAL")


def test_sandbox_gone_while_app_containers_run_is_missing(node: Node) -> None:
    node.seed_pod()
    node.proc.remove(300)
    pod = only_pod(node.snapshot(), "my-nginx-pod")
    assert (pod.sandbox.process, pod.sandbox.pid, pod.sandbox.id) == (
        SandboxProcess.MISSING,
        None,
        INFRA_A,
    )
    assert len(pod.containers) == 2
    assert all(c.namespaces["net"].verdict is Verdict.PRIVATE for c in pod.containers)


def test_recorded_init_pid_wins_over_the_earliest_process(node: Node) -> None:
    node.seed_pod()
    node.podman.add_container(NGINX, "my-nginx-pod-my-nginx-container", sandbox_id=INFRA_A, pid=311)
    node.proc.add(
        311,
        "httpd",
        ppid=310,
        start_time=25,
        namespaces=POD_A_NS,
        cgroup=podman_cgroup(POD_A, NGINX),
    )
    pod = only_pod(node.snapshot(), "my-nginx-pod")
    nginx = next(c for c in pod.containers if c.name == "my-nginx-container")
    assert (nginx.pid, nginx.pids) == (311, (310, 311))


def test_init_is_the_top_process_not_the_lowest_pid(node: Node) -> None:
    """Pids wrap: a child can have a lower pid than its parent."""
    node.seed_pod()
    node.proc.add(
        5,
        "worker",
        ppid=310,
        start_time=90,
        namespaces=POD_A_NS,
        cgroup=podman_cgroup(POD_A, NGINX),
    )
    pod = only_pod(node.snapshot(), "my-nginx-pod")
    assert next(c for c in pod.containers if c.name == "my-nginx-container").pid == 310


def test_malformed_config_json_is_a_scan_error_and_the_rest_is_paired(node: Node) -> None:
    node.seed_pod()
    node.podman.add_container(SIDECAR, "my-nginx-pod-ubuntu-sidecar-container", raw_config="{oops")
    snapshot = node.snapshot()
    pod = only_pod(snapshot, "my-nginx-pod")
    assert [c.name for c in pod.containers] == ["my-nginx-container"]
    assert any(
        e.stage == "runtime" and e.reason == "malformed config.json" for e in snapshot.errors
    )


def test_pid_reuse_moves_the_pid_to_its_new_container(node: Node) -> None:
    node.seed_pod()
    builder = node.builder()
    first = only_pod(builder.build(), "my-nginx-pod")
    assert 320 in next(c for c in first.containers if c.name == "ubuntu-sidecar-container").pids
    # The sidecar exited; pid 320 now belongs to a plain host process.
    node.proc.add(320, "bash", start_time=999, cgroup="0::/user.slice")
    second = only_pod(builder.build(), "my-nginx-pod")
    assert [c.name for c in second.containers] == ["my-nginx-container"]


def test_runtime_less_pod_is_found_by_shared_namespaces(node: Node) -> None:
    holder_ns = {"net": NET_B, "ipc": IPC_B, "uts": UTS_B}
    node.proc.add(500, "sleep", start_time=5, namespaces=holder_ns)  # longest-lived, not pause
    node.proc.add(501, "pause", start_time=7, namespaces=holder_ns)
    # Started from outside the holder's tree (by a runtime's shim, pid 499), as runc starts them.
    node.proc.add(
        502,
        "app",
        ppid=499,
        start_time=9,
        namespaces=holder_ns | {"mnt": 4026532600, "pid": 4026532601},
    )
    node.proc.add(
        503,
        "app",
        ppid=499,
        start_time=9,
        namespaces=holder_ns | {"mnt": 4026532602, "pid": 4026532603},
    )
    # A lone process in a private network namespace is not a pod.
    node.proc.add(
        600, "chrome-sandbox", namespaces={"net": 4026532700, "ipc": 4026532701, "uts": 4026532702}
    )
    snapshot = node.snapshot()
    assert [p.name for p in snapshot.pods] == [f"net-{NET_B}"]
    pod = snapshot.pods[0]
    assert (pod.runtime, pod.evidence, pod.sandbox.pid) == ("none", "namespaces", 501)
    assert sorted(c.pid for c in pod.containers) == [502, 503]
    assert pod.grouping is not None and pod.grouping.joined_pids == (502, 503)
    assert all(c.namespaces["net"].verdict is Verdict.POD for c in pod.containers)
    assert all(c.namespaces["mnt"].verdict is Verdict.PRIVATE for c in pod.containers)


def test_host_reference_falls_back_from_pid1_to_kthreadd_to_self(node: Node) -> None:
    node.proc.add(1, "init", ppid=0, unreadable=["net"])
    kthreadd = node.proc.add(2, "kthreadd", ppid=0)
    snapshot = node.snapshot()
    assert (snapshot.host.kind, snapshot.host.pid) == ("kthreadd", 2)
    assert "pid 1" in snapshot.host.note

    for link in (kthreadd / "ns").iterdir():
        link.unlink()
    node.proc.add(77, "nsinspect")
    (node.proc.root / "self").rename(node.proc.root / "self-dir")
    (node.proc.root / "self").symlink_to("77")
    assert (node.snapshot().host.kind, node.snapshot().host.pid) == ("self", 77)
