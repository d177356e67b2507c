"""The benchmark's /metrics sizes: series and bytes per container at each detail level, counted
against the scan's own containers and namespace types."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.fakenode import Node
from nsinspect.agent.metrics.pod_families import MetricsDetail
from nsinspect.agent.model import NS_TYPES

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from metrics_size import measure_all, render


def test_sizes_count_each_containers_series(tmp_path: Path) -> None:
    node = Node(tmp_path)
    node.seed_pod()
    snapshot = node.snapshot()
    containers = [c for pod in snapshot.pods for c in pod.containers]
    types = [{t for t in c.namespaces if t in NS_TYPES} for c in containers]
    inodes = sum(
        1 for c in containers for t, v in c.namespaces.items() if t in NS_TYPES and v.inode
    )

    shared, full = measure_all(snapshot)
    assert (shared.detail, full.detail) == (MetricsDetail.SHARED, MetricsDetail.FULL)
    assert shared.containers == full.containers == len(containers) == 2
    assert shared.container_series == sum(len(t & {"net", "ipc", "uts", "pid"}) for t in types)
    assert full.container_series == sum(len(t) for t in types) + inodes
    assert shared.series < full.series and shared.bytes < full.bytes
    assert 0 < shared.gzip_bytes < shared.bytes
    assert shared.bytes_per_container == shared.bytes / 2

    table = "\n".join(render([shared, full]))
    assert "2 app containers" in table
    assert f"{shared.series:8,}" in table.splitlines()[2]
