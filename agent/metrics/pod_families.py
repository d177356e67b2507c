"""The families with series per pod: one small generator each, in the order they are written.

Labels follow cAdvisor and kube-state-metrics (`namespace`, `pod`, `uid`, `container`,
`container_id`) so `* on(namespace, pod) group_left(...) kube_pod_info` joins work; the Linux
namespace is `ns_type`/`ns_inode`. There is no `node` label: Prometheus adds the target's node by
relabelling. A generator writes one pod's series into its family and depends on nothing but the
pod and the render context, so the renderer can keep a pod's lines while both are unchanged.

Cardinality: a container's series are what grows with a fleet. By default (`shared`) each one
has `nsinspect_container_namespace_shared` for the types a pod shares (net, ipc, uts, pid): 4
series; `full` adds the per-type inode family (`_info`, for joins on inodes) and the node-wide
types (mnt, user, cgroup, time): 16 series, as before the detail level existed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ..model import NS_TYPES, SPEC_TYPES, Pod
from .text_format import GaugeFamily

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class MetricsDetail(StrEnum):
    """How much of each container the metrics say (`nsinspect agent --metrics-detail`)."""

    SHARED = "shared"  # _shared for the types a pod shares, and the pod-level families
    FULL = "full"  # also the inode family (_info) and every namespace type


# The namespace types of each container's series, by detail level.
CONTAINER_NS_TYPES: dict[MetricsDetail, tuple[str, ...]] = {
    MetricsDetail.SHARED: SPEC_TYPES,
    MetricsDetail.FULL: NS_TYPES,
}


@dataclass(frozen=True, slots=True)
class RenderContext:
    """What a pod's lines depend on besides the pod."""

    boot_seconds: float | None  # boot time, which sandbox start times (in ticks) count from
    detail: MetricsDetail = MetricsDetail.SHARED

    @property
    def container_ns_types(self) -> tuple[str, ...]:
        return CONTAINER_NS_TYPES[self.detail]


Generator = Callable[[Pod, RenderContext, GaugeFamily], None]


@dataclass(frozen=True, slots=True)
class PodFamily:
    name: str
    help: str
    labels: tuple[str, ...]
    generate: Generator
    detail: MetricsDetail = MetricsDetail.SHARED  # the least detail level that exports it

    def new(self) -> GaugeFamily:
        return GaugeFamily(self.name, self.help, self.labels)


def sandbox_info(pod: Pod, context: RenderContext, family: GaugeFamily) -> None:
    sandbox = pod.sandbox
    family.add([pod.namespace, pod.name, pod.uid, sandbox.id, pod.runtime, sandbox.process], 1)


def container_namespace_info(pod: Pod, context: RenderContext, family: GaugeFamily) -> None:
    for container in pod.containers:
        series = family.bind(
            [pod.namespace, pod.name, pod.uid, container.name, container.identity.id]
        )
        for ns_type, verdict in container.namespaces.items():
            if ns_type in context.container_ns_types and verdict.inode is not None:
                series.add([ns_type, str(verdict.inode)], 1)


def container_namespace_shared(pod: Pod, context: RenderContext, family: GaugeFamily) -> None:
    for container in pod.containers:
        series = family.bind([pod.namespace, pod.name, container.name])
        for ns_type, verdict in container.namespaces.items():
            if ns_type in context.container_ns_types:
                series.add([ns_type], 1 if verdict.shared_with_sandbox else 0)


def pod_namespace_host(pod: Pod, context: RenderContext, family: GaugeFamily) -> None:
    series = family.bind([pod.namespace, pod.name, pod.uid])
    for ns_type in SPEC_TYPES:
        series.add([ns_type], 1 if ns_type in pod.host_use else 0)


def pod_namespace_mismatch(pod: Pod, context: RenderContext, family: GaugeFamily) -> None:
    for found in pod.mismatches:
        family.add([pod.namespace, pod.name, found.container, found.ns_type, found.expected], 1)


def sandbox_start_time(pod: Pod, context: RenderContext, family: GaugeFamily) -> None:
    start_time = pod.sandbox.start_time
    if start_time is not None and context.boot_seconds is not None:
        family.add(
            [pod.namespace, pod.name, pod.uid], context.boot_seconds + start_time / CLOCK_TICKS
        )


POD_FAMILIES = (
    PodFamily("nsinspect_pod_sandbox_info", "A pod's sandbox (pause container), 1 per pod.",
              ("namespace", "pod", "uid", "sandbox_id", "runtime", "sandbox_process"),
              sandbox_info),
    PodFamily("nsinspect_container_namespace_info",
              "The Linux namespace of each type an app container is in.",
              ("namespace", "pod", "uid", "container", "container_id", "ns_type", "ns_inode"),
              container_namespace_info, MetricsDetail.FULL),
    PodFamily("nsinspect_container_namespace_shared",
              "1 when the container is in its sandbox's namespace of that type, else 0.",
              ("namespace", "pod", "container", "ns_type"), container_namespace_shared),
    PodFamily("nsinspect_pod_namespace_host",
              "1 when the pod uses the node's namespace of that type (hostNetwork etc.), else 0.",
              ("namespace", "pod", "uid", "ns_type"), pod_namespace_host),
    PodFamily("nsinspect_pod_namespace_mismatch",
              "1 where the kernel's sharing differs from what the pod spec implies.",
              ("namespace", "pod", "container", "ns_type", "expected"), pod_namespace_mismatch),
    PodFamily("nsinspect_pod_sandbox_start_time_seconds",
              "When the sandbox process started; a change means the sandbox was recreated.",
              ("namespace", "pod", "uid"), sandbox_start_time),
)  # fmt: skip


def pod_families(detail: MetricsDetail) -> tuple[PodFamily, ...]:
    """The pod families exported at `detail`, in the order they are written."""
    return tuple(
        family
        for family in POD_FAMILIES
        if family.detail is MetricsDetail.SHARED or detail is MetricsDetail.FULL
    )
