"""Kubelet's cgroup layouts, both drivers, both cgroup versions, read as /proc/<pid>/cgroup."""

from __future__ import annotations

import pytest

from harness.fakeruntimes import cgroup_lines, cgroupfs_path, systemd_path
from nsinspect.agent.discovery.procfs import parse_cgroup
from nsinspect.agent.runtimes.cgroups import CgroupMatch, match_cgroup

CID = "ab" * 32
UID = "0dce96c8-10db-4274-82a3-05b59e8d9b10"
UID_ = UID.replace("-", "_")
POD_ID = "cd" * 32

# (layout, cgroup path, runtime hint ("": the path does not say), pod uid, kubelet layout)
LAYOUTS = [
    ("cgroupfs BestEffort", cgroupfs_path(UID, CID), "", UID, True),
    ("cgroupfs Burstable", cgroupfs_path(UID, CID, "burstable"), "", UID, True),
    ("cgroupfs Guaranteed: no QoS part", cgroupfs_path(UID, CID, ""), "", UID, True),
    ("cgroupfs CRI-O", cgroupfs_path(UID, CID, prefix="crio-"), "cri-o", UID, True),
    (
        "systemd containerd",
        systemd_path(UID, CID, prefix="cri-containerd"),
        "containerd",
        UID,
        True,
    ),
    ("systemd CRI-O Guaranteed", systemd_path(UID, CID, qos="", prefix="crio"), "cri-o", UID, True),
    (
        "systemd cri-dockerd",
        systemd_path(UID, CID, "burstable", prefix="docker"),
        "docker",
        UID,
        True,
    ),
    ("containerd without a cgroup parent", f"/k8s.io/{CID}", "", "", False),
    ("plain docker", f"/docker/{CID}", "", "", False),
    (
        "systemd containerd, colon form",
        f"/system.slice/containerd.service/kubepods-besteffort-pod{UID_}.slice:cri-containerd:{CID}",
        "containerd",
        UID,
        True,
    ),
    (
        "kind's --cgroup-root=/kubelet",
        f"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
        f"kubelet-kubepods-besteffort-pod{UID_}.slice/cri-containerd-{CID}.scope",
        "containerd",
        UID,
        True,
    ),
    (
        "relative: cgroup namespace rooted in the QoS slice",
        f"/../kubepods-besteffort-pod{UID_}.slice/cri-containerd-{CID}.scope",
        "containerd",
        UID,
        True,
    ),
    ("relative: cgroup namespace rooted in another pod", f"/../../pod{UID}/{CID}", "", UID, True),
    (
        "a cgroup the container made below its scope",
        systemd_path(UID, CID, prefix="cri-containerd") + "/init.scope",
        "containerd",
        UID,
        True,
    ),
]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("layout", LAYOUTS, ids=[row[0] for row in LAYOUTS])
def test_kubelet_layouts(layout: tuple[str, str, str, str, bool], version: int) -> None:
    name, path, hint, uid, kubelet = layout
    paths, malformed = parse_cgroup("\n".join(cgroup_lines(path, version)))
    assert not malformed
    assert match_cgroup(paths) == CgroupMatch(CID, hint or None, uid, "", kubelet), name


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(
    "path",
    [
        systemd_path(UID, CID, prefix="crio-conmon"),
        f"/machine.slice/libpod-conmon-{CID}.scope",
        "/user.slice/user-0.slice/session-1.scope",
        "/kubepods/besteffort",
        f"/kubepods/besteffort/pod{UID}",
        "/",
    ],
)
def test_what_is_not_a_container(path: str, version: int) -> None:
    paths, _ = parse_cgroup("\n".join(cgroup_lines(path, version)))
    assert match_cgroup(paths) is None


@pytest.mark.parametrize(
    "path",
    [
        f"/libpod_parent/{POD_ID}/libpod-{CID}",
        f"/machine.slice/machine-libpod_pod_{POD_ID}.slice/libpod-{CID}.scope",
    ],
)
def test_podman_pods_are_not_kubelet_pods(path: str) -> None:
    assert match_cgroup((path,)) == CgroupMatch(CID, "podman", "", POD_ID, False)
