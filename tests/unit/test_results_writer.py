"""The scanner's results as the server will read them: every document equal to what the report
builders give for the same snapshot, each pod in exactly one namespace's list, `current` always
naming a complete generation while generations are published, two kept, modes for the server."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.fakenode import Node
from harness.fakeruntimes import (
    OWN,
    FakeContainerd,
    cgroup_lines,
    cgroupfs_path,
    containerd_annotations,
)
from nsinspect.agent.daemon.results_writer import ResultsWriter
from nsinspect.agent.exchange.layout import (
    EMPTY,
    SERVER_GID,
    current_generation,
    namespace_key,
    read_index,
)
from nsinspect.agent.metrics.health import AgentMetrics
from nsinspect.agent.model import Snapshot
from nsinspect.agent.scanner import NodeReports, ScanConfig, SnapshotBuilder

NAMESPACES = ["default", "kube-system", "a/../b", "line\nbreak", "ünïcödé", "default"]


def fake_node(tmp_path: Path, namespaces: list[str] = NAMESPACES) -> Node:
    """The podman seed pod (no namespace) and one containerd pod (pause + app) per namespace."""
    node = Node(tmp_path)
    node.seed_pod()
    containerd = FakeContainerd(node.host_root)
    for i, namespace in enumerate(namespaces):
        uid = f"00000000-0000-0000-0000-{i:012d}"
        sandbox, app = f"{i:04x}" * 16, f"{i + 0x8000:04x}" * 16
        pid = 1000 + 10 * i
        own = {"net": 4026540000 + i, "ipc": 4026541000 + i, "uts": 4026542000 + i}
        identity = (sandbox, f"pod-{i}", uid)
        containerd.add(
            sandbox, containerd_annotations("sandbox", *identity, namespace=namespace), OWN, pid=pid
        )
        containerd.add(
            app,
            containerd_annotations("container", *identity, name="app", namespace=namespace),
            {"pid": "", "mnt": ""} | {t: f"/proc/{pid}/ns/{t}" for t in own},
            pid=pid + 1,
        )  # fmt: skip
        # Every app but the first runs in the first pod's IPC namespace: findings in each.
        app_own = own | {"ipc": 4026541000} if i else own
        for cid, offset, comm, held in ((sandbox, 0, "pause", own), (app, 1, "app", app_own)):
            node.proc.add(
                pid + offset,
                comm,
                start_time=pid + offset,
                namespaces=held | {"pid": 4026543000 + pid + offset, "mnt": 4026544000 + pid},
                cgroup=cgroup_lines(cgroupfs_path(uid, cid), 2),
            )
    return node


def scan(node: Node) -> Snapshot:
    config = ScanConfig(
        proc_root=str(node.proc.root), host_root=str(node.host_root), cri_sockets=(), node_name="n1"
    )
    return SnapshotBuilder(config).build()


def metrics_of(snapshot: Snapshot) -> tuple[bytes, bytes]:
    metrics = AgentMetrics()
    metrics.observe_scan(snapshot, None)
    return metrics.render()


def read_json(path: Path) -> Any:
    return json.loads(path.read_bytes())


def as_json(document: Any) -> Any:
    """What the one-process agent's HTTP API answered, read back."""
    return json.loads(json.dumps(document.to_json(), separators=(",", ":")))


def test_every_document_equals_the_report_builders(tmp_path: Path) -> None:
    snapshot = scan(fake_node(tmp_path / "node"))
    assert {p.namespace for p in snapshot.pods} == set(NAMESPACES) | {""}
    assert snapshot.findings, "the fake node should give findings to split"
    writer = ResultsWriter(tmp_path / "results")
    writer.prepare()
    metrics = metrics_of(snapshot)
    assert writer.write(snapshot, metrics) == 1
    generation = current_generation(tmp_path / "results")
    assert generation is not None
    reports = NodeReports(snapshot)
    assert read_json(generation / "pods.json") == as_json(reports.pod_list(None))
    assert read_json(generation / "findings.json") == as_json(reports.finding_list(None))
    assert read_json(generation / "namespaces.json") == as_json(reports.namespace_list())
    assert (generation / "metrics.prom").read_bytes() == b"".join(metrics)
    assert (generation / "metrics.prom").read_bytes().endswith(b"\n")
    assert b"nsinspect_scan_running_seconds" not in b"".join(metrics)
    assert b"nsinspect_scan_stuck" not in b"".join(metrics)

    index = read_index(generation)
    assert (index.node, index.taken_at, index.generation) == ("n1", snapshot.taken_at, 1)
    assert index.namespaces == {ns: namespace_key(ns) for ns in set(NAMESPACES) | {""}}
    seen_pods: list[tuple[str, str]] = []
    for namespace, key in index.namespaces.items():
        pods = read_json(generation / "pods" / f"{key}.json")
        assert pods == as_json(reports.pod_list(namespace))
        seen_pods += [(p["pod"]["namespace"], p["pod"]["name"]) for p in pods["items"]]
        findings = read_json(generation / "findings" / f"{key}.json")
        assert findings == as_json(reports.finding_list(namespace))
    assert sorted(seen_pods) == sorted((p.namespace, p.name) for p in snapshot.pods)  # once each
    empty = read_json(generation / "pods" / EMPTY)
    assert empty["items"] == [] and empty == as_json(reports.pod_list("no-such-namespace"))
    assert read_json(generation / "findings" / EMPTY) == as_json(reports.finding_list("none"))


def test_modes_and_group_let_only_the_server_read(tmp_path: Path) -> None:
    results = tmp_path / "results"
    writer = ResultsWriter(results)
    writer.prepare()
    writer.write(scan(fake_node(tmp_path / "node", ["default"])), (b"# no metrics\n",))
    for path in [results, *results.rglob("*")]:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        assert stat.S_IMODE(st.st_mode) == (0o750 if stat.S_ISDIR(st.st_mode) else 0o640), path
        if os.geteuid() == 0:
            assert st.st_gid == SERVER_GID, path


def test_current_always_names_a_complete_generation_and_two_are_kept(tmp_path: Path) -> None:
    snapshot = scan(fake_node(tmp_path / "node"))
    results = tmp_path / "results"
    writer = ResultsWriter(results)
    writer.prepare()
    writer.write(snapshot, metrics_of(snapshot))
    done = threading.Event()
    reads: list[int] = []
    failures: list[str] = []

    def reader() -> None:
        """As the server reads: resolve current once, then read the files of that answer."""
        while not done.is_set():
            generation = current_generation(results)
            try:
                assert generation is not None
                index = read_index(generation)
                pods = read_json(generation / "pods.json")
                for key in index.namespaces.values():
                    read_json(generation / "pods" / f"{key}.json")
                assert len(pods["items"]) == len(snapshot.pods)
                assert (generation / "metrics.prom").read_bytes().endswith(b"\n")
                reads.append(index.generation)
            except Exception as exc:
                failures.append(f"{generation}: {exc!r}")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(50):
            writer.write(snapshot, metrics_of(snapshot))
            # The scanner writes once an interval (15 s), and a reader takes milliseconds: the
            # pause keeps that order, so only a reader stalled across two writes (100 ms) could
            # find its generation pruned. Back to back, a thread the scheduler left waiting did.
            time.sleep(0.05)
    finally:
        done.set()
        thread.join()
    assert failures == []
    assert len(set(reads)) > 5, "the reader should have seen many generations"
    assert sorted(p.name for p in results.iterdir()) == ["current", "gen-50", "gen-51"]


def test_a_restarted_scanner_goes_on_from_the_generations_left(tmp_path: Path) -> None:
    snapshot = scan(fake_node(tmp_path / "node", ["default"]))
    results = tmp_path / "results"
    first = ResultsWriter(results)
    first.prepare()
    for _ in range(3):
        first.write(snapshot, (b"\n",))
    second = ResultsWriter(results)
    second.prepare()
    assert second.write(snapshot, (b"\n",)) == 4
    assert current_generation(results) == results / "gen-4"


@pytest.mark.root
def test_a_real_scan_of_this_machine(tmp_path: Path) -> None:
    snapshot = SnapshotBuilder(ScanConfig()).build()
    writer = ResultsWriter(tmp_path)
    writer.prepare()
    writer.write(snapshot, metrics_of(snapshot))
    generation = current_generation(tmp_path)
    assert generation is not None
    reports = NodeReports(snapshot)
    assert read_json(generation / "pods.json") == as_json(reports.pod_list(None))
    assert read_json(generation / "namespaces.json") == as_json(reports.namespace_list())
    index = read_index(generation)
    assert set(index.namespaces) == {p.namespace for p in snapshot.pods} | {
        f.pod.namespace for f in snapshot.findings if f.pod is not None
    }
    total = sum(
        len(read_json(generation / "pods" / f"{key}.json")["items"])
        for key in index.namespaces.values()
    )
    assert total == len(snapshot.pods)
