"""Pods made of real namespaces with unshare/nsenter, checked against readlink(1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.synthetic import SyntheticPod, readlink_inode, start_pod
from nsinspect.agent.model import Pod, Snapshot, Verdict
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

pytestmark = pytest.mark.root


@pytest.fixture
def synthetic(tmp_path: Path) -> Iterator[SyntheticPod]:
    pod = start_pod(tmp_path, containers=2)
    yield pod
    pod.stop()


def pod_of(snapshot: Snapshot, holder_pid: int) -> Pod:
    found = [p for p in snapshot.pods if p.sandbox.pid == holder_pid]
    assert len(found) == 1, (
        f"holder {holder_pid} not a sandbox in {[p.name for p in snapshot.pods]}"
    )
    return found[0]


def test_every_verdict_matches_readlink(synthetic: SyntheticPod) -> None:
    snapshot = SnapshotBuilder(ScanConfig()).build()
    pod = pod_of(snapshot, synthetic.holder_pid)
    assert pod.name == f"net-{readlink_inode(synthetic.holder_pid, 'net')}"
    assert sorted(c.pid for c in pod.containers if c.pid) == sorted(synthetic.container_pids())
    for container in pod.containers:
        assert container.pid is not None
        for ns_type in ("net", "ipc", "uts", "pid", "mnt", "user", "cgroup"):
            truth = readlink_inode(container.pid, ns_type)
            sandbox_truth = readlink_inode(synthetic.holder_pid, ns_type)
            host_truth = readlink_inode(2, ns_type)  # kthreadd: the initial namespaces
            verdict = container.namespaces[ns_type]
            assert verdict.inode == truth
            if truth == host_truth:
                assert verdict.verdict is Verdict.HOST, ns_type
            elif truth == sandbox_truth:
                assert verdict.verdict is Verdict.POD, ns_type
            else:
                assert verdict.verdict is Verdict.PRIVATE, ns_type
        judged = {t: v.verdict for t, v in container.namespaces.items()}
        assert judged["net"] == judged["ipc"] == judged["uts"] == Verdict.POD
        assert judged["pid"] == judged["mnt"] == Verdict.PRIVATE


def test_a_container_that_joins_only_the_network_keeps_its_own_ipc_and_uts(tmp_path: Path) -> None:
    pod = start_pod(tmp_path, containers=1, share="n")
    try:
        # Its ipc/uts triple differs from the holder's, so it is its own group: only the holder
        # and nothing else share the holder's triple, and that is not a pod.
        snapshot = SnapshotBuilder(ScanConfig()).build()
        assert not [p for p in snapshot.pods if p.sandbox.pid == pod.holder_pid]
    finally:
        pod.stop()


def test_two_pods_are_told_apart(tmp_path: Path) -> None:
    first = start_pod(tmp_path, containers=1)
    second = start_pod(tmp_path, containers=1)
    try:
        snapshot = SnapshotBuilder(ScanConfig()).build()
        one, two = pod_of(snapshot, first.holder_pid), pod_of(snapshot, second.holder_pid)
        assert one.sandbox.namespaces["net"] != two.sandbox.namespaces["net"]
        assert [c.pid for c in one.containers] == first.container_pids()
        assert [c.pid for c in two.containers] == second.container_pids()
    finally:
        first.stop()
        second.stop()
