"""`nsinspect pod NAME` reads only what the pod needs, and says exactly what a full scan says.

Each report comes through the real `nsinspect` executable and is compared with the report a
full scan of the node gives for the same pod (everything but `taken_at` and the process facts
that move on their own, CPU time and RSS): synthetic pods, one of them in another pod's pid
namespace (the `other` verdict, which needs the other pod's sandbox), a podman pod and a CRI
pod; each test checks the targeted way answered (agent/scanner/targeted.py).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cri_node import CriNode, PodSpec
from harness.local_cli import NSINSPECT, local_json
from harness.podman import SEED_CONTAINERS, kube_play, pod_yaml
from harness.synthetic import (
    SyntheticPod,
    _children,
    _comm,
    pause_binary,
    readlink_inode,
    start_pod,
    wait_for,
)
from nsinspect.agent.scanner import NodeReports, ScanConfig, SnapshotBuilder
from nsinspect.agent.scanner.targeted import TargetedScan

pytestmark = pytest.mark.root


def cli_report(name: str, *args: str) -> dict[str, Any]:
    return local_json("pod", name, *args)


def full_report(name: str, namespace: str) -> dict[str, Any]:
    reports = NodeReports(SnapshotBuilder(ScanConfig()).build())
    pod = reports.find(namespace, name)
    assert pod is not None, reports.pod_names()
    return reports.pod_report(pod).to_json()


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The document without what changes between two reads of the same pod."""
    document = dict(document)
    del document["taken_at"]
    for container in document["containers"]:
        facts = container.get("process")
        if facts is not None:
            container["process"] = {
                k: v for k, v in facts.items() if k not in ("cpu_seconds", "rss_bytes")
            }
    return document


def group_name(pod: SyntheticPod) -> str:
    return f"net-{readlink_inode(pod.holder_pid, 'net')}"


@pytest.fixture
def synthetic_pods(tmp_path: Path) -> Iterator[list[SyntheticPod]]:
    pods: list[SyntheticPod] = []
    try:
        for containers in (1, 2, 3):
            pods.append(start_pod(tmp_path, containers=containers))
        yield pods
    finally:
        for pod in pods:
            pod.stop()


def test_a_synthetic_pod_is_read_alone_and_reported_as_the_full_scan_does(
    synthetic_pods: list[SyntheticPod],
) -> None:
    for pod in synthetic_pods:
        name = group_name(pod)
        targeted = TargetedScan(ScanConfig()).snapshot(name, None)
        assert targeted is not None, f"{name} was not answered the targeted way"
        node_processes = sum(1 for entry in os.listdir("/proc") if entry.isdecimal())
        # The pod's holder and containers (2 processes each), pid 1, a runtime's process or two.
        assert len(targeted.processes) < min(node_processes, 1 + 2 * 3 + 40)
        shown = cli_report(name)
        assert comparable(shown) == comparable(full_report(name, ""))
        pids = {c["pid"] for c in shown["containers"]}
        assert pids == set(pod.container_pids())
        assert all(c["process"]["uid"] == 0 for c in shown["containers"])


@pytest.fixture
def pid_sharing_pods(tmp_path: Path) -> Iterator[tuple[str, str, int]]:
    """Pod A, whose sandbox has a pid namespace of its own; pod B, one of whose containers
    runs in A's pid namespace. Yields both names and that container's pid."""
    pause = pause_binary(tmp_path)
    started: list[subprocess.Popen[bytes]] = []

    def launch(argv: list[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, start_new_session=True)
        started.append(process)
        return process

    def child(pid: int, comm: str) -> int:
        found: list[int] = []

        def running() -> bool:
            found[:] = [c for c in _children(pid) if _comm(c) == comm]
            return bool(found)

        wait_for(running, what=f"{comm} under {pid}")
        return found[0]

    try:
        holder_a = launch(["unshare", "--net", "--ipc", "--uts", "--pid", "--fork", pause, "inf"])
        pause_a = child(holder_a.pid, "pause")
        launch(["nsenter", "-t", str(pause_a), "-n", "-i", "-u", "--",
                "unshare", "--mount", "--pid", "--fork", "sleep", "infinity"])  # fmt: skip
        pod_b = start_pod(tmp_path, containers=1)
        started += [pod_b.holder, *pod_b.containers]
        crossing = launch(["nsenter", "-t", str(pod_b.holder_pid), "-n", "-i", "-u", "--",
                           "nsenter", "-t", str(pause_a), "-p", "--",
                           "unshare", "--mount", "sleep", "infinity"])  # fmt: skip
        # The second nsenter forks into A's pid namespace; its child unshares a mount
        # namespace and becomes sleep.
        inner = child(crossing.pid, "sleep")
        yield f"net-{readlink_inode(pause_a, 'net')}", group_name(pod_b), inner
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, 9)
            process.wait()


def test_a_container_in_another_pods_pid_namespace_is_judged_other(
    pid_sharing_pods: tuple[str, str, int],
) -> None:
    pod_a, pod_b, crossing = pid_sharing_pods
    assert TargetedScan(ScanConfig()).snapshot(pod_b, None) is not None
    shown = cli_report(pod_b)
    assert comparable(shown) == comparable(full_report(pod_b, ""))
    container = next(c for c in shown["containers"] if c["pid"] == crossing)
    assert container["namespaces"]["pid"]["verdict"] == "other"
    assert container["namespaces"]["pid"]["other_pod"] == pod_a
    assert any(f["code"] == "CrossPodNamespace" for f in shown["findings"])


def test_a_podman_pod_is_reported_as_the_full_scan_does() -> None:
    name = f"nsi-targeted-{uuid.uuid4().hex[:8]}"
    with kube_play(pod_yaml(name, SEED_CONTAINERS)):
        assert TargetedScan(ScanConfig()).snapshot(name, None) is not None
        assert comparable(cli_report(name)) == comparable(full_report(name, ""))


@pytest.mark.containerd
def test_a_cri_pod_is_reported_as_the_full_scan_does(cri_node: CriNode) -> None:
    # A name of its own: another session's CRI node may run the shared pods' names.
    suffix = uuid.uuid4().hex[:8]
    spec = PodSpec(f"nsi-targeted-{suffix}", {"app": ["tail", "-f", "/dev/null"]}, pid="POD")
    pod = cri_node.run_pod(spec)
    try:
        assert TargetedScan(ScanConfig()).snapshot(spec.name, spec.namespace) is not None
        shown = cli_report(spec.name, "-n", spec.namespace)
        assert shown["pod"]["uid"] == pod.uid
        assert comparable(shown) == comparable(full_report(spec.name, spec.namespace))
    finally:
        cri_node.remove_pod(pod)


@pytest.mark.containerd
def test_a_host_network_pod_is_left_to_the_full_scan(cri_node: CriNode) -> None:
    """Any process of the node's may own its sockets: only a full scan reads them all."""
    suffix = uuid.uuid4().hex[:8]
    spec = PodSpec(f"nsi-targeted-host-{suffix}", {"app": ["tail", "-f", "/dev/null"]},
                   network="NODE")  # fmt: skip
    pod = cri_node.run_pod(spec)
    try:
        assert TargetedScan(ScanConfig()).snapshot(spec.name, spec.namespace) is None
        shown = comparable(cli_report(spec.name, "-n", spec.namespace))
        full = comparable(full_report(spec.name, spec.namespace))
        # The node's network is the pod's: its sockets and interfaces are every process's,
        # and other tests' come and go between two reads. The namespace read must agree.
        shown_network, full_network = shown.pop("network"), full.pop("network")
        assert shown == full
        assert shown_network["ns_inode"] == full_network["ns_inode"]
        assert shown_network["host_network"] is full_network["host_network"] is True
    finally:
        cri_node.remove_pod(pod)


def test_a_name_of_no_pod_gets_the_full_scans_error() -> None:
    host_net = readlink_inode(os.getpid(), "net")
    result = subprocess.run(
        [NSINSPECT, "--local", "pod", f"net-{host_net}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert f'pod "net-{host_net}" not found in any namespace on this node' in result.stderr
