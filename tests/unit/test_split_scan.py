"""The cold scan on two cores (agent/scanner/split_scan.py) gives exactly the scan one process
gives: the same processes in the same order, the same errors, the same zombies; also when the
child dies before answering. On a fake proc tree with every kind of process a scan meets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.fakeproc import FakeProc
from nsinspect.agent.discovery.procfs import PF_KTHREAD, ProcScan, ProcScanner
from nsinspect.agent.scanner import NodeReports, ScanConfig, SnapshotBuilder
from nsinspect.agent.scanner import split_scan as split_module
from nsinspect.agent.scanner.split_scan import MINIMUM_PIDS, split_scan

PODS = 60  # a holder and three containers each: more processes than MINIMUM_PIDS


@pytest.fixture
def node(tmp_path: Path) -> FakeProc:
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "systemd", ppid=0, start_time=1)
    proc.add(2, "kthreadd", ppid=0, start_time=1, flags=PF_KTHREAD)
    for n in range(PODS):
        net = 4026540000 + 10 * n
        holder = 1000 + 10 * n
        shared = {"net": net, "ipc": net + 1, "uts": net + 2}
        proc.add(holder, "pause", start_time=holder, namespaces=shared)
        for k in range(1, 4):
            proc.add(holder + k, f"app-{k}", start_time=holder + k,
                     namespaces=shared | {"pid": net + 3 + k, "mnt": net + 6 + k})  # fmt: skip
    proc.add(5001, "defunct", state="Z")
    proc.add(5002, "locked", unreadable=("net", "mnt"))
    (proc.add(5003, "odd") / "stat").write_text("not a stat line\n")
    assert len(os.listdir(proc.root)) > MINIMUM_PIDS
    return proc


def forks_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the forks; and lets split_scan fork though earlier tests left threads running
    in this process (the CLI it is for has none; its child only reads /proc and exits)."""
    monkeypatch.setattr(split_module.threading, "active_count", lambda: 1)
    forks: list[int] = []
    fork = os.fork

    def counted() -> int:
        forks.append(1)
        return fork()

    monkeypatch.setattr(split_module.os, "fork", counted)
    return forks


def as_compared(scan: ProcScan) -> tuple[Any, ...]:
    return list(scan.processes.items()), scan.errors, scan.zombies


def test_the_split_scan_is_the_scan(node: FakeProc, monkeypatch: pytest.MonkeyPatch) -> None:
    forks = forks_counted(monkeypatch)
    split = split_scan(ProcScanner(str(node.root)))
    assert forks == [1]
    alone = ProcScanner(str(node.root)).scan()
    assert as_compared(split) == as_compared(alone)
    assert alone.zombies == 1 and alone.errors and len(alone.processes) == 4 * PODS + 2


def test_a_child_that_dies_leaves_its_share_to_the_parent(
    node: FakeProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    forks = forks_counted(monkeypatch)
    monkeypatch.setattr(split_module, "_read_for_parent", lambda *args: os._exit(3))
    split = split_scan(ProcScanner(str(node.root)))
    assert forks == [1]
    assert as_compared(split) == as_compared(ProcScanner(str(node.root)).scan())


def test_a_builder_that_splits_its_first_scan_lists_the_same_pods(node: FakeProc) -> None:
    config = ScanConfig(proc_root=str(node.root), host_root=str(node.root.parent), node_name="n")

    def pod_list(builder: SnapshotBuilder) -> dict[str, Any]:
        document = NodeReports(builder.build()).pod_list().to_json()
        for part in [document, *document["items"]]:
            del part["taken_at"]
        return document

    split = SnapshotBuilder(config, split_first_scan=True)
    alone = SnapshotBuilder(config)
    assert pod_list(split) == pod_list(alone)
    assert len(pod_list(split)["items"]) == PODS
    assert pod_list(split) == pod_list(alone)  # the second scan, not split, reuses the first
