"""Prometheus metrics: families built afresh from the latest snapshot, plus the agent's health.

The export layer only reads a snapshot; it never reaches into discovery, and a scrape never
scans. Labels follow cAdvisor and kube-state-metrics (`namespace`, `pod`, `uid`, `container`,
`container_id`) so `* on(namespace, pod) group_left(...) kube_pod_info` joins work; the Linux
namespace is `ns_type`/`ns_inode`. There is no `node` label: Prometheus adds the target's node
by relabelling. A deleted pod's series vanish with the next snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nsinspect.agent import __version__
from nsinspect.agent.expectations import CHECKED_TYPES, pod_mismatches
from nsinspect.agent.model import NS_TYPES, Snapshot, Verdict

# Scans take ~10 ms on an idle node and ~0.3 s at 3,500 processes.
SCAN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def clock_ticks_per_second() -> int:
    return os.sysconf("SC_CLK_TCK")


def boot_time(proc_root: str) -> float | None:
    """Seconds since the epoch at boot (`btime` of `<proc root>/stat`)."""
    try:
        with open(f"{proc_root}/stat", encoding="ascii") as stat:
            for line in stat:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


class SnapshotCollector(Collector):
    """Yields the pod families of one snapshot."""

    def __init__(self, snapshot: Snapshot, boot_seconds: float | None) -> None:
        self.snapshot = snapshot
        self.boot_seconds = boot_seconds

    def collect(self) -> Iterator[Metric]:
        yield from self._pod_families()
        yield from self._scan_families()

    def _pod_families(self) -> Iterator[Metric]:
        sandbox_info = GaugeMetricFamily(
            "nsinspect_pod_sandbox_info",
            "A pod's sandbox (pause container), 1 per pod.",
            labels=["namespace", "pod", "uid", "sandbox_id", "runtime", "sandbox_process"],
        )
        ns_info = GaugeMetricFamily(
            "nsinspect_container_namespace_info",
            "The Linux namespace of each type an app container is in.",
            labels=["namespace", "pod", "uid", "container", "container_id", "ns_type", "ns_inode"],
        )
        shared = GaugeMetricFamily(
            "nsinspect_container_namespace_shared",
            "1 when the container is in its sandbox's namespace of that type, else 0.",
            labels=["namespace", "pod", "container", "ns_type"],
        )
        host = GaugeMetricFamily(
            "nsinspect_pod_namespace_host",
            "1 when the pod uses the node's namespace of that type (hostNetwork etc.), else 0.",
            labels=["namespace", "pod", "uid", "ns_type"],
        )
        mismatch = GaugeMetricFamily(
            "nsinspect_pod_namespace_mismatch",
            "1 where the kernel's sharing differs from what the pod spec implies.",
            labels=["namespace", "pod", "container", "ns_type", "expected"],
        )
        started = GaugeMetricFamily(
            "nsinspect_pod_sandbox_start_time_seconds",
            "When the sandbox process started; a change means the sandbox was recreated.",
            labels=["namespace", "pod", "uid"],
        )
        ticks = clock_ticks_per_second()
        for pod in self.snapshot.pods:
            sandbox = pod.sandbox
            sandbox_info.add_metric(
                [pod.namespace, pod.name, pod.uid, sandbox.id, pod.runtime, str(sandbox.process)], 1
            )
            if sandbox.start_time is not None and self.boot_seconds is not None:
                started.add_metric(
                    [pod.namespace, pod.name, pod.uid],
                    self.boot_seconds + sandbox.start_time / ticks,
                )
            for container in pod.containers:
                for ns_type, verdict in container.namespaces.items():
                    if ns_type not in NS_TYPES:
                        continue
                    if verdict.inode is not None:
                        ns_info.add_metric(
                            [pod.namespace, pod.name, pod.uid, container.name,
                             container.identity.id, ns_type, str(verdict.inode)],
                            1,
                        )  # fmt: skip
                    shared.add_metric(
                        [pod.namespace, pod.name, container.name, ns_type],
                        1 if verdict.shared_with_sandbox else 0,
                    )
            for ns_type in CHECKED_TYPES:
                on_host = any(
                    c.namespaces[ns_type].verdict is Verdict.HOST
                    for c in pod.containers
                    if ns_type in c.namespaces
                ) or sandbox.namespaces.get(ns_type) == self.snapshot.host.namespaces.get(ns_type)
                host.add_metric([pod.namespace, pod.name, pod.uid, ns_type], 1 if on_host else 0)
            for found in pod_mismatches(pod):
                mismatch.add_metric(
                    [pod.namespace, pod.name, found.container, found.ns_type, found.expected], 1
                )
        yield from (sandbox_info, ns_info, shared, host, mismatch, started)

        findings = GaugeMetricFamily(
            "nsinspect_pod_finding",
            "1 per open finding (see `nsinspect doctor`).",
            labels=["namespace", "pod", "code", "severity"],
        )
        namespaces = {pod.key: pod.namespace for pod in self.snapshot.pods}
        names = {pod.key: pod.name for pod in self.snapshot.pods}
        seen: set[tuple[str, str, str, str]] = set()
        for finding in self.snapshot.findings:
            labels = (
                namespaces.get(finding.pod, ""),
                names.get(finding.pod, ""),
                finding.code,
                finding.severity,
            )
            if labels not in seen:
                seen.add(labels)
                findings.add_metric(list(labels), 1)
        yield findings

        orphans = GaugeMetricFamily(
            "nsinspect_orphan_namespaces",
            "Pinned namespaces that no process is in and no pod uses.",
            labels=["ns_type"],
        )
        counts: dict[str, int] = {}
        for pin in self.snapshot.orphans:
            counts[pin.ns_type] = counts.get(pin.ns_type, 0) + 1
        for ns_type, count in sorted(counts.items()):
            orphans.add_metric([ns_type], count)
        yield orphans

    def _scan_families(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "nsinspect_last_scan_timestamp_seconds",
            "When the latest snapshot was taken.",
            value=self.snapshot.taken_at,
        )
        yield GaugeMetricFamily(
            "nsinspect_processes", "Processes seen by the latest scan.",
            value=len(self.snapshot.processes),
        )  # fmt: skip
        runtime_up = GaugeMetricFamily(
            "nsinspect_runtime_up",
            "1 when the runtime's state was found on this node.",
            labels=["runtime"],
        )
        for runtime, up in sorted(self.snapshot.runtimes.items()):
            runtime_up.add_metric([runtime], 1 if up else 0)
        yield runtime_up


class AgentMetrics:
    """The agent's own series, updated as scans happen, and the rendering of a scrape.

    The snapshot's families are rendered once, by the scan thread right after each scan, and
    every scrape until the next scan reuses those bytes: a scrape costs the same whatever the
    number of pods, and never waits for a render.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.scan_duration = Histogram(
            "nsinspect_scan_duration_seconds", "Duration of a full scan.",
            buckets=SCAN_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.scan_errors = Counter(
            "nsinspect_scan_errors", "Entries a scan could not read, by stage.",
            ["stage"], registry=self.registry,
        )  # fmt: skip
        self.kube_api_up = Gauge(
            "nsinspect_kube_api_up",
            "1 when the Kubernetes API answers the pod watch; 0 when not (runtime data only).",
            registry=self.registry,
        )
        build = Gauge(
            "nsinspect_build_info", "The agent's version.", ["version"], registry=self.registry
        )
        build.labels(__version__).set(1)
        ProcessCollector(registry=self.registry)  # the agent's own RSS, CPU, open fds
        self._snapshot_text = b""

    def observe_scan(self, snapshot: Snapshot, boot_seconds: float | None) -> None:
        """Count the scan and render its families for the scrapes to come."""
        self.scan_duration.observe(snapshot.duration_seconds)
        for error in snapshot.errors:
            self.scan_errors.labels(error.stage).inc()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(SnapshotCollector(snapshot, boot_seconds))
        self._snapshot_text = generate_latest(registry)

    def render(self) -> bytes:
        return self._snapshot_text + generate_latest(self.registry)
