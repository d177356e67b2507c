"""Real containerd CRI pods: identity against the CRI's own status, verdicts against readlink(1).

The pods are created over CRI as kubelet creates them (tests/harness/cri_node.py); nsinspect then
finds them three ways: through the CRI socket, from containerd's bundles on disk with no socket,
and from cgroups alone with neither.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cri_node import CriNode, CriPod
from harness.synthetic import readlink_inode
from nsinspect.agent.model import Pod, SandboxProcess, Snapshot, Verdict
from nsinspect.agent.runtimes.cri_api import runtime_v1_pb2 as cri
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

pytestmark = [pytest.mark.root, pytest.mark.containerd]

POD_KEYS = ("seed", "shared-pid", "host-network", "host-pid-ipc")
ALL_TYPES = ("net", "ipc", "uts", "pid", "mnt", "user", "cgroup", "time")


def scan(cri_sockets: tuple[str, ...], state_dirs: dict[str, str] | None = None) -> Snapshot:
    config = ScanConfig(cri_sockets=cri_sockets, state_dirs=state_dirs or {})
    return SnapshotBuilder(config).build()


def find(snapshot: Snapshot, pod: CriPod) -> Pod:
    found = [p for p in snapshot.pods if p.uid == pod.uid]
    assert len(found) == 1, [(p.namespace, p.name, p.uid) for p in snapshot.pods]
    return found[0]


def cri_truth(node: CriNode, pod: CriPod) -> tuple[int, dict[str, str], dict[str, int]]:
    """The sandbox pid, the requested modes and the container pids, as the CRI says."""
    status = node.status(pod)
    options = status.status.linux.namespaces.options
    requested = {
        "net": cri.NamespaceMode.Name(options.network),
        "ipc": cri.NamespaceMode.Name(options.ipc),
        "pid": cri.NamespaceMode.Name(options.pid),
    }
    pids = {
        name: json.loads(node.container_status(cid).info["info"])["pid"]
        for name, cid in pod.container_ids.items()
    }
    return json.loads(status.info["info"])["pid"], requested, pids


def expected_verdict(ns_type: str, requested: dict[str, str]) -> Verdict:
    """What the kernel must show for a pod created with these CRI options."""
    mode = requested.get("net" if ns_type == "uts" else ns_type)
    if ns_type in ("user", "cgroup", "time"):
        return Verdict.HOST  # no pod here asks for its own; cgroup v1 has no cgroupns
    if ns_type == "mnt":
        return Verdict.PRIVATE
    return {"NODE": Verdict.HOST, "POD": Verdict.POD, "CONTAINER": Verdict.PRIVATE}[str(mode)]


@pytest.fixture
def via_cri(cri_node: CriNode, cri_pods: dict[str, CriPod]) -> Snapshot:
    return scan(cri_sockets=(cri_node.socket,))


@pytest.mark.parametrize("key", POD_KEYS)
def test_the_cri_decides_who_each_pod_is(
    cri_node: CriNode, cri_pods: dict[str, CriPod], via_cri: Snapshot, key: str
) -> None:
    pod = cri_pods[key]
    found = find(via_cri, pod)
    sandbox_pid, requested, pids = cri_truth(cri_node, pod)
    assert (found.namespace, found.name, found.uid) == ("default", pod.spec.name, pod.uid)
    assert (found.runtime, found.evidence) == ("containerd", "cri")
    assert found.sandbox.id == pod.sandbox_id
    assert found.sandbox.process is SandboxProcess.PRESENT
    assert found.sandbox.pid == sandbox_pid
    assert found.sandbox.comm == "pause"
    assert {c.name: c.identity.id for c in found.containers} == pod.container_ids
    assert {c.name: c.pid for c in found.containers} == pids
    assert dict(found.requested) == requested
    assert via_cri.runtimes_read[f"cri:{cri_node.socket}"] is True


@pytest.mark.parametrize("key", POD_KEYS)
def test_verdicts_match_readlink_and_the_cri(
    cri_node: CriNode, cri_pods: dict[str, CriPod], via_cri: Snapshot, key: str
) -> None:
    pod = cri_pods[key]
    found = find(via_cri, pod)
    sandbox_pid, requested, pids = cri_truth(cri_node, pod)
    for container in found.containers:
        assert container.identity.requested == requested  # kubelet gives each the pod's options
        for ns_type in ALL_TYPES:
            truth = readlink_inode(pids[container.name], ns_type)
            verdict = container.namespaces[ns_type]
            assert verdict.inode == truth, (container.name, ns_type)
            in_sandbox = truth == readlink_inode(sandbox_pid, ns_type)
            assert verdict.shared_with_sandbox == in_sandbox, (container.name, ns_type)
            assert verdict.verdict is expected_verdict(ns_type, requested), (
                container.name,
                ns_type,
            )


def test_seed_pod_shares_net_and_ipc_but_not_pid(
    cri_pods: dict[str, CriPod], via_cri: Snapshot
) -> None:
    """The seed example, spelled out: one network and IPC namespace, a pid namespace each."""
    found = find(via_cri, cri_pods["seed"])
    nginx, sidecar = sorted(found.containers, key=lambda c: c.name)
    assert nginx.name == "my-nginx-container"
    assert nginx.namespaces["net"].inode == sidecar.namespaces["net"].inode
    assert nginx.namespaces["ipc"].inode == sidecar.namespaces["ipc"].inode
    assert nginx.namespaces["pid"].inode != sidecar.namespaces["pid"].inode


@pytest.mark.parametrize("key", POD_KEYS)
def test_on_disk_bundles_decide_without_a_socket(
    cri_node: CriNode, cri_pods: dict[str, CriPod], key: str
) -> None:
    snapshot = scan(cri_sockets=(), state_dirs={"containerd": cri_node.state_dir})
    pod = cri_pods[key]
    found = find(snapshot, pod)
    sandbox_pid, requested, pids = cri_truth(cri_node, pod)
    assert (found.namespace, found.name, found.runtime) == ("default", pod.spec.name, "containerd")
    assert found.evidence == "oci-config"
    assert (found.sandbox.id, found.sandbox.pid) == (pod.sandbox_id, sandbox_pid)
    assert {c.name: c.pid for c in found.containers} == pids
    assert dict(found.requested) == requested
    assert snapshot.runtimes_read["containerd"] is True


def test_cgroups_alone_still_find_every_pod(
    cri_node: CriNode, cri_pods: dict[str, CriPod], tmp_path: Path
) -> None:
    """No socket, no state: kubelet's pod cgroups and the pause process still make the pods."""
    snapshot = scan(cri_sockets=(), state_dirs={"containerd": str(tmp_path)})
    for pod in cri_pods.values():
        found = find(snapshot, pod)
        sandbox_pid, _, pids = cri_truth(cri_node, pod)
        assert (found.name, found.evidence) == (f"pod{pod.uid}", "cgroup")
        assert (found.sandbox.id, found.sandbox.pid) == (pod.sandbox_id, sandbox_pid)
        assert {c.identity.id for c in found.containers} == set(pod.container_ids.values())
        assert sorted(c.pid for c in found.containers) == sorted(pids.values())


@pytest.fixture
def dead_sockets(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A socket path with nothing there, one nobody listens on, and one that never answers."""
    missing = str(tmp_path / "missing.sock")
    refused = str(tmp_path / "refused.sock")
    hung = str(tmp_path / "hung.sock")
    closed = socket.socket(socket.AF_UNIX)
    closed.bind(refused)  # bound, never listening: connections are refused
    silent = socket.socket(socket.AF_UNIX)
    silent.bind(hung)
    silent.listen(8)  # the kernel accepts; nobody ever reads or answers
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        silent.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except TimeoutError:
                continue

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    yield {"missing": missing, "refused": refused, "hung": hung}
    stop.set()
    holder.join()
    for sock in [closed, silent, *held]:
        sock.close()


def test_unreachable_cri_sockets_never_block_a_scan(
    cri_node: CriNode, cri_pods: dict[str, CriPod], dead_sockets: dict[str, str]
) -> None:
    started = time.monotonic()
    snapshot = scan(
        cri_sockets=tuple(dead_sockets.values()), state_dirs={"containerd": cri_node.state_dir}
    )
    elapsed = time.monotonic() - started
    assert elapsed < 8, f"scan took {elapsed:.1f} s"
    cri_errors = {e.path: e.reason for e in snapshot.errors if e.stage == "cri"}
    assert set(cri_errors) == set(dead_sockets.values()), cri_errors
    assert "no such socket" in cri_errors[dead_sockets["missing"]]
    assert "UNAVAILABLE" in cri_errors[dead_sockets["refused"]]
    assert "DEADLINE_EXCEEDED" in cri_errors[dead_sockets["hung"]]
    assert not any(snapshot.runtimes_read[f"cri:{path}"] for path in dead_sockets.values())
    # The on-disk resolver decides instead.
    for pod in cri_pods.values():
        found = find(snapshot, pod)
        assert (found.runtime, found.evidence) == ("containerd", "oci-config")
