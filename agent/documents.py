"""The `nsinspect/v1` JSON documents, built from the model.

These are the contract: the CLI prints them with `-o json`, the agent serves them, scripts rely on
them. Fields may be added; existing ones keep their names and meaning. Command lines and
environments are never included: they can hold secrets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from nsinspect.agent.inside.documents import details_sections
from nsinspect.agent.inside.model import PodDetails
from nsinspect.agent.model import (
    NS_TYPES,
    Container,
    Finding,
    HostReference,
    NamespaceVerdict,
    PinnedNamespace,
    Pod,
    Process,
    ScanError,
    Snapshot,
)

API_VERSION = "nsinspect/v1"

Document = dict[str, Any]


def error_document(error: ScanError) -> Document:
    document: Document = {"stage": error.stage, "reason": error.reason}
    if error.pid is not None:
        document["pid"] = error.pid
    if error.path is not None:
        document["path"] = error.path
    return document


def finding_document(finding: Finding) -> Document:
    return {
        "code": finding.code,
        "severity": finding.severity,
        "message": finding.message,
        "pod": finding.pod,
        "container": finding.container,
        "ns_type": finding.ns_type,
        "evidence": dict(finding.evidence),
    }


def host_document(host: HostReference) -> Document:
    return {
        "source": host.source,
        "pid": host.pid,
        "namespaces": dict(host.namespaces),
        "note": host.note,
    }


def _verdict_document(verdict: NamespaceVerdict) -> Document:
    document: Document = {
        "inode": verdict.inode,
        "verdict": str(verdict.verdict),
        "shared_with_sandbox": verdict.shared_with_sandbox,
    }
    if verdict.reason:
        document["reason"] = verdict.reason
    if verdict.other_pod:
        document["other_pod"] = verdict.other_pod
    return document


def _container_document(container: Container) -> Document:
    identity = container.identity
    return {
        "name": identity.name,
        "id": identity.id,
        "pid": container.pid,
        "pids": list(container.pids),
        "role": str(identity.role),
        "namespaces": {t: _verdict_document(v) for t, v in container.namespaces.items()},
    }


def pod_pids(pod: Pod) -> set[int]:
    pids = {pid for container in pod.containers for pid in container.pids}
    if pod.sandbox.pid is not None:
        pids.add(pod.sandbox.pid)
    return pids


def pod_document(pod: Pod, snapshot: Snapshot, details: PodDetails | None = None) -> Document:
    """The PodReport for one pod of a snapshot; with `details` (from `inside.collect.pod_details`,
    for a single-pod report) also its `network`, `uts` and `ipc` sections."""
    pids = pod_pids(pod)
    sandbox = pod.sandbox
    intent = pod.intent
    document: Document = {
        "apiVersion": API_VERSION,
        "kind": "PodReport",
        "node": snapshot.node,
        "taken_at": snapshot.taken_at,
        "pod": {
            "namespace": pod.namespace,
            "name": pod.name,
            "uid": pod.uid,
            "runtime": pod.runtime,
            "source": pod.source,
        },
        "sandbox": {
            "id": sandbox.id,
            "pid": sandbox.pid,
            "process": str(sandbox.process),
            "comm": sandbox.comm,
            "start_time": sandbox.start_time,
            "namespaces": dict(sandbox.namespaces),
            "pins": dict(sandbox.pins),
        },
        "containers": [_container_document(c) for c in pod.containers],
        "requested": dict(pod.requested),
        "intent": None
        if intent is None
        else {
            "hostNetwork": intent.host_network,
            "hostIPC": intent.host_ipc,
            "hostPID": intent.host_pid,
            "shareProcessNamespace": intent.share_process_namespace,
            "containers": list(intent.container_names),
            "source": intent.source,
        },
        "host": host_document(snapshot.host),
        "findings": [finding_document(f) for f in snapshot.findings if f.pod == pod.key],
        "errors": [error_document(e) for e in snapshot.errors if e.pid in pids],
    }
    if details is not None:
        document.update(details_sections(details))
    return document


def pod_list_document(pods: Iterable[Pod], snapshot: Snapshot) -> Document:
    return {
        "apiVersion": API_VERSION,
        "kind": "PodList",
        "node": snapshot.node,
        "taken_at": snapshot.taken_at,
        # Which runtimes could be read in this scan (`cri:<socket>` when the CRI answered).
        "runtimes": dict(snapshot.runtimes),
        "items": [pod_document(pod, snapshot) for pod in pods],
    }


def _ns_users(snapshot: Snapshot) -> dict[tuple[str, int], list[Document]]:
    """(type, inode) -> the pods' sandboxes and containers that are in it."""
    users: dict[tuple[str, int], list[Document]] = defaultdict(list)
    for pod in snapshot.pods:
        for ns_type, inode in pod.sandbox.namespaces.items():
            if inode is not None:
                users[(ns_type, inode)].append({"pod": pod.key, "container": "", "role": "sandbox"})
        for container in pod.containers:
            for ns_type, verdict in container.namespaces.items():
                if verdict.inode is not None:
                    users[(ns_type, verdict.inode)].append(
                        {"pod": pod.key, "container": container.name, "role": "app"}
                    )
    return users


def _process_brief(process: Process) -> Document:
    return {"pid": process.pid, "comm": process.comm}


def namespace_document(
    ns_type: str,
    inode: int,
    snapshot: Snapshot,
    holders: list[Process] | None = None,
    users: Mapping[tuple[str, int], list[Document]] | None = None,
) -> Document:
    """A NamespaceReport: who is in one namespace, what pins it, which pods use it."""
    if holders is None:
        holders = [p for p in snapshot.processes.values() if p.namespaces.get(ns_type) == inode]
    users = _ns_users(snapshot) if users is None else users
    pins = [p.path for p in snapshot.pinned if p.ns_type == ns_type and p.inode == inode]
    return {
        "apiVersion": API_VERSION,
        "kind": "NamespaceReport",
        "node": snapshot.node,
        "type": ns_type,
        "inode": inode,
        "host": snapshot.host.namespaces.get(ns_type) == inode,
        "processes": [_process_brief(p) for p in sorted(holders, key=lambda p: p.pid)],
        "pins": pins,
        "orphan": any(o.ns_type == ns_type and o.inode == inode for o in snapshot.orphans),
        "users": users.get((ns_type, inode), []),
    }


def namespace_list_document(snapshot: Snapshot) -> Document:
    """Every namespace on the node: processes in it, pins, and the pods that use it."""
    holders: dict[tuple[str, int], list[Process]] = defaultdict(list)
    for process in snapshot.processes.values():
        for ns_type, inode in process.namespaces.items():
            if inode is not None and ns_type in NS_TYPES:
                holders[(ns_type, inode)].append(process)
    keys = set(holders) | {(p.ns_type, p.inode) for p in snapshot.pinned}
    users = _ns_users(snapshot)
    items = []
    for ns_type, inode in sorted(keys):
        item = namespace_document(
            ns_type, inode, snapshot, holders.get((ns_type, inode), []), users
        )
        for key in ("apiVersion", "kind", "node"):
            del item[key]
        items.append(item)
    return {
        "apiVersion": API_VERSION,
        "kind": "NamespaceList",
        "node": snapshot.node,
        "taken_at": snapshot.taken_at,
        "orphans": [_pin_document(o) for o in snapshot.orphans],
        "items": items,
    }


def _pin_document(pin: PinnedNamespace) -> Document:
    return {"type": pin.ns_type, "inode": pin.inode, "path": pin.path, "holder_pid": pin.holder_pid}


def process_document(process: Process, snapshot: Snapshot) -> Document:
    """A ProcessReport: one process's namespaces, and the pod and container it belongs to."""
    membership: Document | None = None
    for pod in snapshot.pods:
        if process.pid == pod.sandbox.pid:
            membership = {"pod": pod.key, "container": "", "role": "sandbox"}
        for container in pod.containers:
            if process.pid in container.pids:
                membership = {"pod": pod.key, "container": container.name, "role": "app"}
    host = snapshot.host.namespaces
    return {
        "apiVersion": API_VERSION,
        "kind": "ProcessReport",
        "node": snapshot.node,
        "pid": process.pid,
        "ppid": process.ppid,
        "comm": process.comm,
        "start_time": process.start_time,
        "cgroup": list(process.cgroup_paths),
        "member_of": membership,
        "namespaces": {
            t: {
                "inode": inode,
                "host": inode is not None and inode == host.get(t),
                **({"reason": process.ns_errors[t]} if t in process.ns_errors else {}),
            }
            for t, inode in process.namespaces.items()
        },
        "host": host_document(snapshot.host),
        "errors": [error_document(e) for e in snapshot.errors if e.pid == process.pid],
    }


def finding_list_document(snapshot: Snapshot, namespace: str | None = None) -> Document:
    """Every open finding on the node (only those of pods in `namespace` when given)."""
    pod_namespaces = {pod.key: pod.namespace for pod in snapshot.pods}
    findings = [
        f
        for f in snapshot.findings
        if namespace is None or (f.pod and pod_namespaces.get(f.pod) == namespace)
    ]
    return {
        "apiVersion": API_VERSION,
        "kind": "FindingList",
        "node": snapshot.node,
        "taken_at": snapshot.taken_at,
        "items": [finding_document(f) for f in findings],
    }
