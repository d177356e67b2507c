"""A builder that reuses what it found before concludes exactly what a fresh one does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.fakenode import (
    APP_B,
    INFRA_B,
    IPC_B,
    NET_A,
    NET_B,
    POD_A,
    POD_A_NS,
    POD_B,
    SIDECAR,
    UTS_B,
    Node,
)
from harness.fakepodman import podman_cgroup
from nsinspect.agent.model import Snapshot

HOLDER_NS = {"net": 4026532800, "ipc": 4026532801, "uts": 4026532802}


def runtime_less_pod(node: Node) -> None:
    node.proc.add(500, "pause", start_time=5, namespaces=HOLDER_NS)
    for pid, mnt in ((502, 4026532810), (503, 4026532812)):
        node.proc.add(
            pid, "app", ppid=500, start_time=9, namespaces=HOLDER_NS | {"mnt": mnt, "pid": mnt + 1}
        )


def intruder_pod(node: Node) -> None:
    """Pod B, whose app container sits in pod A's network namespace."""
    node.podman.add_pod(POD_B, "intruder")
    node.podman.add_container(INFRA_B, "b-infra")
    node.podman.add_container(APP_B, "intruder-app", sandbox_id=INFRA_B)
    own = {"net": NET_B, "ipc": IPC_B, "uts": UTS_B}
    node.proc.add(400, "catatonit", namespaces=own, cgroup=podman_cgroup(POD_B, INFRA_B))
    node.proc.add(
        410, "sleep", namespaces=own | {"net": NET_A, "mnt": 4026532410},
        cgroup=podman_cgroup(POD_B, APP_B),
    )  # fmt: skip


def app_execs(node: Node) -> None:
    node.proc.add(
        502, "nginx", ppid=500, start_time=9,
        namespaces=HOLDER_NS | {"mnt": 4026532810, "pid": 4026532811},
    )  # fmt: skip


def sidecar_moves_to_another_network(node: Node) -> None:
    node.proc.add(
        320, "tail", start_time=30,
        namespaces=POD_A_NS | {"net": 4026532999, "pid": 4026532257, "mnt": 4026532256},
        cgroup=podman_cgroup(POD_A, SIDECAR),
    )  # fmt: skip


CHANGES: list[tuple[str, Callable[[Node], None]]] = [
    ("nothing", lambda node: None),
    ("a host process starts", lambda node: node.proc.add(900, "probe", start_time=90)),
    ("it exits", lambda node: node.proc.remove(900)),
    ("an app container execs", app_execs),
    ("the sidecar moves to another network", sidecar_moves_to_another_network),
    ("another pod joins pod A's network", intruder_pod),
    ("pod B's sandbox exits", lambda node: node.proc.remove(400)),
    ("the runtime-less pause exits", lambda node: node.proc.remove(500)),
]


def conclusions(snapshot: Snapshot) -> tuple[object, ...]:
    return snapshot.pods, snapshot.findings, snapshot.orphans


def test_each_scan_of_a_reused_builder_equals_a_fresh_scan(tmp_path: Path) -> None:
    node = Node(tmp_path)
    node.seed_pod()
    runtime_less_pod(node)
    builder = node.builder()
    builder.build()
    for step, change in CHANGES:
        change(node)
        assert conclusions(builder.build()) == conclusions(node.snapshot()), step


def test_a_scan_that_finds_the_same_processes_keeps_the_same_pods(tmp_path: Path) -> None:
    node = Node(tmp_path)
    node.seed_pod()
    runtime_less_pod(node)
    builder = node.builder()
    first = builder.build()
    node.proc.add(900, "probe", start_time=90)
    second = builder.build()
    # A process that is no pod's changed nothing a pod is made of: the same pod objects.
    assert all(a is b for a, b in zip(first.pods, second.pods, strict=True))
