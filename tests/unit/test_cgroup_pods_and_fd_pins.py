"""Kubernetes pods from cgroups alone, and namespaces pinned by the runtimes' open fds."""

from __future__ import annotations

from pathlib import Path

from harness.fakeproc import FakeProc
from harness.fakeruntimes import cgroup_lines, cgroupfs_path, systemd_path
from nsinspect.agent.model import Role, SandboxProcess, Snapshot
from nsinspect.agent.runtimes.cgroup_pods import cgroup_identities
from nsinspect.agent.runtimes.cgroups import CgroupMatch
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

UID_A = "0dce96c8-10db-4274-82a3-05b59e8d9b10"
UID_B = "11111111-2222-3333-4444-555555555555"


def scan(proc: FakeProc, host_root: Path) -> Snapshot:
    config = ScanConfig(proc_root=str(proc.root), host_root=str(host_root), cri_sockets=())
    return SnapshotBuilder(config).build()


def test_cgroup_identities_pick_the_pause_like_sandbox() -> None:
    matches = {
        cid: CgroupMatch(cid, "", UID_A, "", True) for cid in ("a" * 64, "b" * 64, "c" * 64)
    } | {"d" * 64: CgroupMatch("d" * 64, "", "", "", False)}
    comms = {"a" * 64: "nginx", "b" * 64: "pause", "c" * 64: "tail", "d" * 64: "pause"}
    identities = cgroup_identities(matches, comms)
    assert set(identities) == {"a" * 64, "b" * 64, "c" * 64}  # not the one outside kubepods
    assert identities["b" * 64].role is Role.SANDBOX
    assert {i.sandbox_id for i in identities.values()} == {"b" * 64}
    assert {i.pod_name for i in identities.values()} == {f"pod{UID_A}"}
    assert identities["a" * 64].name == "a" * 12
    assert {(i.runtime, i.evidence) for i in identities.values()} == {("unknown", "cgroup")}


def test_pods_without_a_pause_process_stay_apart(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "init", ppid=0, start_time=1)
    for pid, uid, cid in ((410, UID_A, "a" * 64), (420, UID_B, "b" * 64)):
        proc.add(
            pid,
            "app",
            start_time=pid,
            namespaces={"net": 4026532000 + pid, "mnt": 4026533000 + pid},
            cgroup=cgroup_lines(systemd_path(uid, cid, prefix="cri-containerd"), 2),
        )
    pods = {pod.uid: pod for pod in scan(proc, tmp_path).pods}
    assert set(pods) == {UID_A, UID_B}
    for pod in pods.values():
        assert (pod.runtime, pod.evidence, pod.sandbox.process) == (
            "containerd",
            "cgroup",
            SandboxProcess.MISSING,
        )
        assert len(pod.containers) == 1


def test_runtime_fds_pin_namespaces_and_other_fds_do_not(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "init", ppid=0, start_time=1)
    pause_ns = {"net": 4026532500, "ipc": 4026532501, "uts": 4026532502}
    proc.add(
        400,
        "pause",
        start_time=400,
        namespaces=pause_ns,
        cgroup=cgroup_lines(cgroupfs_path(UID_A, "a" * 64), 1),
    )
    # 500 is containerd; 700 only calls itself so; 800 runs a containerd from inside a container
    # (its own mount namespace); 900 runs a world-writable one.
    for pid, comm in (
        (500, "containerd"),
        (600, "bash"),
        (700, "containerd"),
        (800, "containerd"),
        (900, "containerd"),
    ):
        proc.add(pid, comm, start_time=pid, namespaces={"mnt": 4026539000} if pid == 800 else None)
        exe = proc.executable(pid, "containerd" if pid != 700 else "sh")
        if pid == 900:
            exe.chmod(0o777)
        fds = proc.root / str(pid) / "fd"
        fds.mkdir()
        (fds / "3").symlink_to("net:[4026532500]")  # the pod's: in use
        (fds / "4").symlink_to(f"net:[{4026539000 + pid}]")  # nobody's: leaked
        (fds / "7").symlink_to(f"net:[{4026539000 + pid}]")  # the same again: one pin
        (fds / "5").symlink_to("socket:[123]")
        (fds / "6").symlink_to("/var/log/containerd.log")
    snapshot = scan(proc, tmp_path)
    assert sorted((p.ns_type, p.inode, p.path, p.holder_pid) for p in snapshot.pinned) == [
        ("net", 4026532500, "/proc/500/fd/3", 500),
        ("net", 4026539500, "/proc/500/fd/4", 500),
    ]
    assert [(o.inode, o.holder_pid) for o in snapshot.orphans] == [(4026539500, 500)]
