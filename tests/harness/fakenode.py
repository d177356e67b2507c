"""A fake node for unit tests: a proc tree and podman state under a host root; the seed pod."""

from __future__ import annotations

from pathlib import Path

from harness.fakepodman import FakePodman, cid, podman_cgroup
from harness.fakeproc import FakeProc
from nsinspect.agent.model import Snapshot
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

POD_A, POD_B = cid(0xA), cid(0xB)
INFRA_A, NGINX, SIDECAR = cid(0xA1), cid(0xA2), cid(0xA3)
INFRA_B, APP_B = cid(0xB1), cid(0xB2)
NET_A, IPC_A, UTS_A = 4026532177, 4026532251, 4026532250
NET_B, IPC_B, UTS_B = 4026532400, 4026532401, 4026532402
POD_A_NS = {"net": NET_A, "ipc": IPC_A, "uts": UTS_A}


class Node:
    """A fake node: proc root plus host root with podman's state."""

    def __init__(self, tmp_path: Path) -> None:
        self.proc = FakeProc(tmp_path / "proc")
        self.host_root = tmp_path / "host"
        self.podman = FakePodman(self.host_root)
        self.proc.add(1, "init", ppid=0, start_time=1)

    def builder(self) -> SnapshotBuilder:
        return SnapshotBuilder(
            ScanConfig(proc_root=str(self.proc.root), host_root=str(self.host_root), node_name="n1")
        )

    def snapshot(self) -> Snapshot:
        return self.builder().build()

    def seed_pod(self) -> None:
        """The seed: infra (catatonit) plus nginx and a sidecar in its net/ipc/uts."""
        self.podman.add_pod(POD_A, "my-nginx-pod")
        self.podman.add_container(INFRA_A, "aaaaaaaaaaaa-infra")
        self.podman.add_container(NGINX, "my-nginx-pod-my-nginx-container", sandbox_id=INFRA_A)
        self.podman.add_container(
            SIDECAR, "my-nginx-pod-ubuntu-sidecar-container", sandbox_id=INFRA_A
        )
        self.proc.add(
            300,
            "catatonit",
            start_time=10,
            namespaces=POD_A_NS | {"pid": 4026532253, "mnt": 4026532252},
            cgroup=podman_cgroup(POD_A, INFRA_A),
        )
        self.proc.add(
            310,
            "httpd",
            start_time=20,
            namespaces=POD_A_NS | {"pid": 4026532255, "mnt": 4026532254},
            cgroup=podman_cgroup(POD_A, NGINX),
        )
        self.proc.add(
            320,
            "tail",
            start_time=30,
            namespaces=POD_A_NS | {"pid": 4026532257, "mnt": 4026532256},
            cgroup=podman_cgroup(POD_A, SIDECAR),
        )
