"""A snapshot's metric families in the text format, rendered once per scan.

Labels follow cAdvisor and kube-state-metrics (`namespace`, `pod`, `uid`, `container`,
`container_id`) so `* on(namespace, pod) group_left(...) kube_pod_info` joins work; the Linux
namespace is `ns_type`/`ns_inode`. There is no `node` label: Prometheus adds the target's node by
relabelling. A deleted pod's series vanish with the next snapshot.

Most of the text is a few lines per container, and most pods are the very same objects from one
snapshot to the next (pairing reuses the pods whose input did not change): their lines are copied
from the previous text instead of being formatted again.
"""

from __future__ import annotations

import os

from nsinspect.agent.expectations import CHECKED_TYPES, pod_mismatches
from nsinspect.agent.exposition import GaugeFamily, render
from nsinspect.agent.model import NS_TYPES, HostReference, Pod, Snapshot, Verdict

# The families with series per pod, in the order they are written: name, help, labels.
POD_FAMILIES = (
    ("nsinspect_pod_sandbox_info", "A pod's sandbox (pause container), 1 per pod.",
     ("namespace", "pod", "uid", "sandbox_id", "runtime", "sandbox_process")),
    ("nsinspect_container_namespace_info",
     "The Linux namespace of each type an app container is in.",
     ("namespace", "pod", "uid", "container", "container_id", "ns_type", "ns_inode")),
    ("nsinspect_container_namespace_shared",
     "1 when the container is in its sandbox's namespace of that type, else 0.",
     ("namespace", "pod", "container", "ns_type")),
    ("nsinspect_pod_namespace_host",
     "1 when the pod uses the node's namespace of that type (hostNetwork etc.), else 0.",
     ("namespace", "pod", "uid", "ns_type")),
    ("nsinspect_pod_namespace_mismatch",
     "1 where the kernel's sharing differs from what the pod spec implies.",
     ("namespace", "pod", "container", "ns_type", "expected")),
    ("nsinspect_pod_sandbox_start_time_seconds",
     "When the sandbox process started; a change means the sandbox was recreated.",
     ("namespace", "pod", "uid")),
)  # fmt: skip

# id(pod) -> the pod, and where its lines of each pod family are in the rendered text.
Spans = dict[int, tuple[Pod, tuple[tuple[int, int], ...]]]


class SnapshotRenderer:
    """Renders one snapshot after another, reusing the lines of pods that did not change."""

    def __init__(self) -> None:
        self.ticks = os.sysconf("SC_CLK_TCK")
        self._text = b""
        self._spans: Spans = {}
        self._context: tuple[HostReference, float | None] | None = None

    def render(self, snapshot: Snapshot, boot_seconds: float | None) -> bytes:
        """`boot_seconds`: boot time, which the sandboxes' start times (in ticks) count from."""
        families = [GaugeFamily(name, doc, labels) for name, doc, labels in POD_FAMILIES]
        # Besides the pod itself, its lines depend on the host reference and the boot time.
        context = (snapshot.host, boot_seconds)
        previous = self._spans if context == self._context else {}
        old = memoryview(self._text)
        local: Spans = {}
        for pod in snapshot.pods:
            starts = [len(family.text) for family in families]
            known = previous.get(id(pod))
            if known is not None and known[0] is pod:
                for family, (start, end) in zip(families, known[1], strict=True):
                    family.text += old[start:end]
            else:
                self._add_pod(families, pod, snapshot.host, boot_seconds)
            spans = zip(starts, (len(family.text) for family in families), strict=True)
            local[id(pod)] = (pod, tuple(spans))
        old.release()

        text = render([*families, *_other_families(snapshot)])
        # From each family's own offsets to offsets in the whole text.
        bases, offset = [], 0
        for family in families:
            bases.append(offset)
            offset += len(family.text)
        self._spans = {
            key: (pod, tuple((b + s, b + e) for b, (s, e) in zip(bases, spans, strict=True)))
            for key, (pod, spans) in local.items()
        }
        self._text, self._context = text, context
        return text

    def _add_pod(
        self,
        families: list[GaugeFamily],
        pod: Pod,
        host: HostReference,
        boot_seconds: float | None,
    ) -> None:
        sandbox_info, ns_info, shared, on_host, mismatch, started = families
        sandbox = pod.sandbox
        sandbox_info.add(
            [pod.namespace, pod.name, pod.uid, sandbox.id, pod.runtime, str(sandbox.process)], 1
        )
        if sandbox.start_time is not None and boot_seconds is not None:
            started.add(
                [pod.namespace, pod.name, pod.uid], boot_seconds + sandbox.start_time / self.ticks
            )
        for container in pod.containers:
            container_info = ns_info.bind(
                [pod.namespace, pod.name, pod.uid, container.name, container.identity.id]
            )
            container_shared = shared.bind([pod.namespace, pod.name, container.name])
            for ns_type, verdict in container.namespaces.items():
                if ns_type not in NS_TYPES:
                    continue
                if verdict.inode is not None:
                    container_info.add([ns_type, str(verdict.inode)], 1)
                container_shared.add([ns_type], 1 if verdict.shared_with_sandbox else 0)
        for ns_type in CHECKED_TYPES:
            uses_host = any(
                c.namespaces[ns_type].verdict is Verdict.HOST
                for c in pod.containers
                if ns_type in c.namespaces
            ) or sandbox.namespaces.get(ns_type) == host.namespaces.get(ns_type)
            on_host.add([pod.namespace, pod.name, pod.uid, ns_type], 1 if uses_host else 0)
        for found in pod_mismatches(pod):
            mismatch.add(
                [pod.namespace, pod.name, found.container, found.ns_type, found.expected], 1
            )


def _other_families(snapshot: Snapshot) -> list[GaugeFamily]:
    """Findings, orphans and the scan's own series: few lines, written anew each time."""
    findings = GaugeFamily(
        "nsinspect_pod_finding",
        "1 per open finding (see `nsinspect doctor`).",
        ["namespace", "pod", "code", "severity"],
    )
    namespaces = {pod.key: pod.namespace for pod in snapshot.pods}
    names = {pod.key: pod.name for pod in snapshot.pods}
    seen: set[tuple[str, str, str, str]] = set()
    for finding in snapshot.findings:
        labels = (
            namespaces.get(finding.pod, ""),
            names.get(finding.pod, ""),
            finding.code,
            finding.severity,
        )
        if labels not in seen:
            seen.add(labels)
            findings.add(labels, 1)

    orphans = GaugeFamily(
        "nsinspect_orphan_namespaces",
        "Pinned namespaces that no process is in and no pod uses.",
        ["ns_type"],
    )
    counts: dict[str, int] = {}
    for pin in snapshot.orphans:
        counts[pin.ns_type] = counts.get(pin.ns_type, 0) + 1
    for ns_type, count in sorted(counts.items()):
        orphans.add([ns_type], count)

    last_scan = GaugeFamily(
        "nsinspect_last_scan_timestamp_seconds", "When the latest snapshot was taken."
    )
    last_scan.add([], snapshot.taken_at)
    processes = GaugeFamily("nsinspect_processes", "Processes seen by the latest scan.")
    processes.add([], len(snapshot.processes))
    runtime_up = GaugeFamily(
        "nsinspect_runtime_up", "1 when the runtime's state was found on this node.", ["runtime"]
    )
    for runtime, up in sorted(snapshot.runtimes.items()):
        runtime_up.add([runtime], 1 if up else 0)
    return [findings, orphans, last_scan, processes, runtime_up]
