"""What /metrics says of each container at each detail level, and the agent's own series: no
`_created`, `nsinspect_kube_api_up` only when Kubernetes is used, build_info's revision."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.fakenode import Node
from nsinspect.agent.exchange.jsonlog import LEVELS
from nsinspect.agent.metrics.health import AgentMetrics
from nsinspect.agent.metrics.pod_families import MetricsDetail
from nsinspect.agent.metrics.renderer import SnapshotRenderer
from nsinspect.agent.model import NS_TYPES, Snapshot
from nsinspect.cli.agent_command import LOG_LEVELS, METRICS_DETAILS

SHARED_TYPES = {"net", "ipc", "uts", "pid"}
BOOT = 1_733_000_000.0


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    node = Node(tmp_path)
    node.seed_pod()
    return node.snapshot()


def samples(text: bytes) -> dict[str, list[dict[str, str]]]:
    """Each family's samples' labels, by sample name."""
    found: dict[str, list[dict[str, str]]] = defaultdict(list)
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[sample.name].append(sample.labels)
    return found


def container_types(snapshot: Snapshot) -> dict[str, set[str]]:
    """Each app container's namespace types as the scan read them (the independent truth)."""
    return {
        container.name: {t for t in container.namespaces if t in NS_TYPES}
        for pod in snapshot.pods
        for container in pod.containers
    }


def test_default_exports_shared_for_the_types_pods_share_and_no_inodes(
    snapshot: Snapshot,
) -> None:
    text = SnapshotRenderer().render(snapshot, BOOT)
    found = samples(text)
    assert "nsinspect_container_namespace_info" not in found
    assert b"ns_inode" not in text
    shared = defaultdict(set)
    for labels in found["nsinspect_container_namespace_shared"]:
        shared[labels["container"]].add(labels["ns_type"])
    truth = container_types(snapshot)
    assert truth, "the seed pod has app containers"
    assert dict(shared) == {name: types & SHARED_TYPES for name, types in truth.items()}
    # The pod-level families stay.
    assert found["nsinspect_pod_sandbox_info"]
    assert {labels["ns_type"] for labels in found["nsinspect_pod_namespace_host"]} == SHARED_TYPES


def test_full_adds_inodes_and_every_type(snapshot: Snapshot) -> None:
    text = SnapshotRenderer(MetricsDetail.FULL).render(snapshot, BOOT)
    found = samples(text)
    truth = container_types(snapshot)
    assert any(types - SHARED_TYPES for types in truth.values()), "mnt at least"
    shared, info = defaultdict(set), defaultdict(set)
    for labels in found["nsinspect_container_namespace_shared"]:
        shared[labels["container"]].add(labels["ns_type"])
    inodes = {
        (c.name, t): str(v.inode)
        for pod in snapshot.pods
        for c in pod.containers
        for t, v in c.namespaces.items()
        if t in NS_TYPES and v.inode is not None
    }
    for labels in found["nsinspect_container_namespace_info"]:
        info[labels["container"]].add(labels["ns_type"])
        assert inodes[(labels["container"], labels["ns_type"])] == labels["ns_inode"]
    assert dict(shared) == truth
    assert dict(info) == {name: {t for n, t in inodes if n == name} for name in truth}


def test_shared_is_a_subset_of_full(snapshot: Snapshot) -> None:
    default = SnapshotRenderer().render(snapshot, BOOT).splitlines()
    full = set(SnapshotRenderer(MetricsDetail.FULL).render(snapshot, BOOT).splitlines())
    assert len(default) < len(full)
    assert set(default) <= full


def test_the_cli_spells_the_agents_choices() -> None:
    """cli/agent_command.py lists them without importing the agent."""
    assert tuple(MetricsDetail) == METRICS_DETAILS
    assert LOG_LEVELS == LEVELS


def health_samples(metrics: AgentMetrics, snapshot: Snapshot) -> dict[str, list[dict[str, str]]]:
    metrics.observe_scan(snapshot, BOOT)
    pods_text, health = metrics.render()
    return samples(pods_text + health)


def test_no_created_series(snapshot: Snapshot) -> None:
    found = health_samples(AgentMetrics(kubernetes=True), snapshot)
    assert "nsinspect_scan_errors_total" in found
    assert "nsinspect_scan_duration_seconds_count" in found
    assert not [name for name in found if name.endswith("_created")]


def test_kube_api_up_only_when_kubernetes_is_used(snapshot: Snapshot) -> None:
    disabled = health_samples(AgentMetrics(kubernetes=False), snapshot)
    assert "nsinspect_kube_api_up" not in disabled
    metrics = AgentMetrics(kubernetes=True)
    metrics.kube_api_answers(False)
    assert health_samples(metrics, snapshot)["nsinspect_kube_api_up"] == [{}]
    _, health = metrics.render()
    assert b"\nnsinspect_kube_api_up 0.0\n" in health
    metrics.kube_api_answers(True)
    _, health = metrics.render()
    assert b"\nnsinspect_kube_api_up 1.0\n" in health


@pytest.mark.parametrize(
    ("environment", "revision"),
    [
        ({"NSINSPECT_REVISION": "3f2a9c1"}, "3f2a9c1"),
        ({"NSINSPECT_REVISION": ""}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_build_info_names_version_and_revision(
    snapshot: Snapshot,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    revision: str,
) -> None:
    monkeypatch.delenv("NSINSPECT_REVISION", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    from nsinspect.agent import __version__

    [labels] = health_samples(AgentMetrics(), snapshot)["nsinspect_build_info"]
    assert labels == {"version": __version__, "revision": revision}
