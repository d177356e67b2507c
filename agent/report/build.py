"""The report model built from a snapshot: pure functions, tested without a node.

A list is built in one pass over the snapshot: findings and scan errors are indexed once by pod
and by pid, not searched again for every pod.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import msgspec
from msgspec import UNSET, UnsetType

from ..model import (
    NS_TYPES,
    Container,
    Finding,
    HostReference,
    NameSource,
    NamespaceGrouping,
    NamespaceVerdict,
    Pod,
    PodRef,
    Process,
    Role,
    RuntimeLocation,
    ScanError,
    Snapshot,
)
from ..namespace_contents.details import PodDetails
from .build_details import ipc_report, network_report, uts_report
from .namespace import (
    NamespaceFacts,
    NamespaceList,
    NamespaceReport,
    PinReport,
    PodMember,
    ProcessBrief,
    ProcessNamespace,
    ProcessReport,
)
from .pod import (
    ContainerReport,
    FindingList,
    FindingReport,
    GroupingReport,
    HostReport,
    IntentReport,
    PodIdentity,
    PodList,
    PodReport,
    ProcessFacts,
    RuntimeLocationReport,
    SandboxReport,
    ScanErrorReport,
    VerdictEntry,
)


def scan_error_report(error: ScanError) -> ScanErrorReport:
    return ScanErrorReport(
        stage=error.stage,
        reason=error.reason,
        pid=UNSET if error.pid is None else error.pid,
        path=UNSET if error.path is None else error.path,
    )


def _kubernetes_named(names_from: NameSource) -> NameSource | UnsetType:
    """`names_from` goes on the wire where Kubernetes named a pod or container, the one source a
    reader cannot tell from the rest of the document (a placeholder shows in `source`)."""
    return names_from if names_from is NameSource.KUBERNETES else UNSET


def runtime_location_report(location: RuntimeLocation) -> RuntimeLocationReport:
    return RuntimeLocationReport(
        runtime=location.runtime,
        what=location.kind,
        path=location.shown_path,
        found_by=location.found_by,
        pid=UNSET if location.pid is None else location.pid,
        exe=location.exe or UNSET,
        argument=location.argument or UNSET,
        readable=location.readable,
        reason=location.reason or UNSET,
    )


def finding_report(finding: Finding) -> FindingReport:
    return FindingReport(
        code=finding.code,
        severity=finding.severity,
        message=finding.message,
        pod=finding.pod.key if finding.pod is not None else "",
        container=finding.container,
        ns_type=finding.ns_type,
        evidence=dict(finding.evidence),
        runtime_less=True if finding.runtime_less else UNSET,
    )


def grouping_report(grouping: NamespaceGrouping) -> GroupingReport:
    return GroupingReport(
        holder_pid=grouping.holder_pid,
        holder_comm=grouping.holder_comm,
        joined_pids=list(grouping.joined_pids),
        text=grouping.text,
    )


def host_report(host: HostReference) -> HostReport:
    return HostReport(
        kind=host.kind, pid=host.pid, namespaces=dict(host.namespaces), note=host.note
    )


def _verdict_entry(verdict: NamespaceVerdict) -> VerdictEntry:
    return VerdictEntry(
        inode=verdict.inode,
        verdict=verdict.verdict,
        shared_with_sandbox=verdict.shared_with_sandbox,
        reason=verdict.reason or UNSET,
        other_pod=verdict.other_pod.key if verdict.other_pod is not None else UNSET,
    )


def _container_report(
    container: Container, facts: Mapping[int, ProcessFacts] | None = None
) -> ContainerReport:
    identity = container.identity
    main = None if facts is None or container.pid is None else facts.get(container.pid)
    return ContainerReport(
        name=identity.name,
        id=identity.id,
        pid=container.pid,
        pids=list(container.pids),
        role=identity.role,
        namespaces={t: _verdict_entry(v) for t, v in container.namespaces.items()},
        names_from=_kubernetes_named(identity.names_from),
        process=UNSET if main is None else main,
    )


class SnapshotIndex:
    """A snapshot's findings by pod and scan errors by pid, each in the snapshot's order."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.host = host_report(snapshot.host)
        self.findings: dict[PodRef, list[FindingReport]] = defaultdict(list)
        for finding in snapshot.findings:
            if finding.pod is not None:
                self.findings[finding.pod].append(finding_report(finding))
        self._errors: dict[int, list[int]] = defaultdict(list)
        for position, error in enumerate(snapshot.errors):
            if error.pid is not None:
                self._errors[error.pid].append(position)

    def errors_of(self, pids: Iterable[int]) -> list[ScanErrorReport]:
        positions = sorted(p for pid in pids for p in self._errors.get(pid, ()))
        return [scan_error_report(self.snapshot.errors[p]) for p in positions]


def pod_report(
    pod: Pod,
    snapshot: Snapshot,
    details: PodDetails | None = None,
    index: SnapshotIndex | None = None,
    process_facts: Mapping[int, ProcessFacts] | None = None,
) -> PodReport:
    """The PodReport of one pod of a snapshot; with `details` (what was collected inside its
    namespaces, for a single-pod report) also its `network`, `uts` and `ipc` sections, and
    with `process_facts` (pid -> facts) each container's main process's."""
    index = index or SnapshotIndex(snapshot)
    sandbox, intent = pod.sandbox, pod.intent
    return PodReport(
        node=snapshot.node,
        taken_at=snapshot.taken_at,
        pod=PodIdentity(
            namespace=pod.namespace,
            name=pod.name,
            uid=pod.uid,
            runtime=pod.runtime,
            evidence=pod.evidence,
            grouping=UNSET if pod.grouping is None else grouping_report(pod.grouping),
            names_from=_kubernetes_named(pod.names_from),
            labels=UNSET if pod.labels is None else dict(pod.labels),
        ),
        sandbox=SandboxReport(
            id=sandbox.id,
            pid=sandbox.pid,
            process=sandbox.process,
            comm=sandbox.comm,
            start_time=sandbox.start_time,
            namespaces=dict(sandbox.namespaces),
            pins=dict(sandbox.pins),
        ),
        containers=[_container_report(c, process_facts) for c in pod.containers],
        requested=dict(pod.requested),
        intent=None
        if intent is None
        else IntentReport(
            host_network=intent.host_network,
            host_ipc=intent.host_ipc,
            host_pid=intent.host_pid,
            share_process_namespace=intent.share_process_namespace,
            containers=list(intent.container_names),
        ),
        host=index.host,
        findings=list(index.findings.get(pod.ref, ())),
        errors=index.errors_of(pod.pids()),
        network=UNSET if details is None else network_report(details.network),
        uts=UNSET if details is None else uts_report(details.uts),
        ipc=UNSET if details is None else ipc_report(details.ipc),
    )


def pod_list(pods: Iterable[Pod], snapshot: Snapshot) -> PodList:
    index = SnapshotIndex(snapshot)
    return PodList(
        node=snapshot.node,
        taken_at=snapshot.taken_at,
        runtimes=[runtime_location_report(location) for location in snapshot.runtimes],
        items=[pod_report(pod, snapshot, index=index) for pod in pods],
    )


def finding_list(snapshot: Snapshot, namespace: str | None = None) -> FindingList:
    """Every open finding on the node (only those of pods in `namespace` when given)."""
    return FindingList(
        node=snapshot.node,
        taken_at=snapshot.taken_at,
        items=[
            finding_report(f)
            for f in snapshot.findings
            if namespace is None or (f.pod is not None and f.pod.namespace == namespace)
        ],
    )


class NamespaceIndex:
    """A snapshot's namespaces by (type, inode): the pods that use each, its pins, orphans."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.users: dict[tuple[str, int], list[PodMember]] = defaultdict(list)
        for pod in snapshot.pods:
            key = pod.key
            for ns_type, inode in pod.sandbox.namespaces.items():
                if inode is not None:
                    self.users[(ns_type, inode)].append(
                        PodMember(pod=key, container="", role=Role.SANDBOX)
                    )
            for container in pod.containers:
                for ns_type, verdict in container.namespaces.items():
                    if verdict.inode is not None:
                        self.users[(ns_type, verdict.inode)].append(
                            PodMember(pod=key, container=container.name, role=Role.APP)
                        )
        self.pins: dict[tuple[str, int], list[str]] = defaultdict(list)
        for pin in snapshot.pinned:
            self.pins[(pin.ns_type, pin.inode)].append(pin.path)
        self.orphans = {(o.ns_type, o.inode) for o in snapshot.orphans}

    def facts(self, ns_type: str, inode: int, holders: Sequence[Process]) -> NamespaceFacts:
        key = (ns_type, inode)
        return NamespaceFacts(
            ns_type=ns_type,
            inode=inode,
            host=self.snapshot.host.namespaces.get(ns_type) == inode,
            processes=[ProcessBrief(pid=p.pid, comm=p.comm) for p in sorted(holders, key=_pid)],
            pins=list(self.pins.get(key, ())),
            orphan=key in self.orphans,
            users=list(self.users.get(key, ())),
        )


def _pid(process: Process) -> int:
    return process.pid


def namespace_report(ns_type: str, inode: int, snapshot: Snapshot) -> NamespaceReport:
    """A NamespaceReport: who is in one namespace, what pins it, which pods use it."""
    holders = [p for p in snapshot.processes.values() if p.namespaces.get(ns_type) == inode]
    facts = NamespaceIndex(snapshot).facts(ns_type, inode, holders)
    return NamespaceReport(node=snapshot.node, **msgspec.structs.asdict(facts))


def namespace_list(snapshot: Snapshot, pinned_only: bool = False) -> NamespaceList:
    """Every namespace on the node (or only those something pins): processes in it, pins, and
    the pods that use it."""
    holders: dict[tuple[str, int], list[Process]] = defaultdict(list)
    for process in snapshot.processes.values():
        for ns_type, inode in process.namespaces.items():
            if inode is not None and ns_type in NS_TYPES:
                holders[(ns_type, inode)].append(process)
    index = NamespaceIndex(snapshot)
    keys = set(index.pins) if pinned_only else set(holders) | set(index.pins)
    return NamespaceList(
        node=snapshot.node,
        taken_at=snapshot.taken_at,
        orphans=[
            PinReport(ns_type=o.ns_type, inode=o.inode, path=o.path, holder_pid=o.holder_pid)
            for o in snapshot.orphans
        ],
        items=[index.facts(t, i, holders.get((t, i), [])) for t, i in sorted(keys)],
    )


def process_report(
    process: Process, snapshot: Snapshot, facts: ProcessFacts | None = None
) -> ProcessReport:
    """A ProcessReport: one process's namespaces, and the pod and container it belongs to."""
    membership: PodMember | None = None
    for pod in snapshot.pods:
        if process.pid == pod.sandbox.pid:
            membership = PodMember(pod=pod.key, container="", role=Role.SANDBOX)
        for container in pod.containers:
            if process.pid in container.pids:
                membership = PodMember(pod=pod.key, container=container.name, role=Role.APP)
    host = snapshot.host.namespaces
    return ProcessReport(
        node=snapshot.node,
        pid=process.pid,
        ppid=process.ppid,
        comm=process.comm,
        start_time=process.start_time,
        cgroup=list(process.cgroup_paths),
        member_of=membership,
        namespaces={
            t: ProcessNamespace(
                inode=inode,
                host=inode is not None and inode == host.get(t),
                reason=process.ns_errors.get(t, UNSET),
            )
            for t, inode in process.namespaces.items()
        },
        host=host_report(snapshot.host),
        errors=[scan_error_report(e) for e in snapshot.errors if e.pid == process.pid],
        process=UNSET if facts is None else facts,
    )
