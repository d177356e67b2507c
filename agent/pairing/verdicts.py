"""Judge every namespace a pod's containers are in: the pod's, the node's, another pod's, or
their own; and conclude from the verdicts where the pod uses the node's namespaces and where
the kernel differs from its spec."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..model import (
    ALL_NS_TYPES,
    SPEC_TYPES,
    Container,
    HostReference,
    NamespaceVerdict,
    Pod,
    PodRef,
    Process,
    Verdict,
)
from .candidates import PodCandidate
from .expectations import pod_mismatches

# (type, inode) of a sandbox namespace that is not the host's -> the pod it is the sandbox of.
Owners = Mapping[tuple[str, int], PodRef]


def sandbox_owners(
    pods: Sequence[PodCandidate], host: HostReference
) -> dict[tuple[str, int], PodRef]:
    """Which pod each sandbox namespace belongs to; the first pod found keeps it."""
    owners: dict[tuple[str, int], PodRef] = {}
    for pod in pods:
        for ns_type, inode in pod.sandbox.namespaces.items():
            if inode is not None and inode != host.namespaces.get(ns_type):
                owners.setdefault((ns_type, inode), pod.ref)
    return owners


def judge(
    ns_type: str,
    inode: int | None,
    error: str,
    *,
    sandbox: Mapping[str, int | None],
    host: HostReference,
    owners: Owners,
    own_pod: PodRef,
) -> NamespaceVerdict:
    """One container's namespace of one type, relative to its sandbox, the node and other pods."""
    sandbox_inode = sandbox.get(ns_type)
    if inode is None:
        return NamespaceVerdict(ns_type, None, Verdict.UNKNOWN, False, reason=error or "unreadable")
    shared = sandbox_inode == inode
    if host.namespaces.get(ns_type) is None:
        # The node's or the pod's, private or another pod's: none can be told from the rest.
        return NamespaceVerdict(
            ns_type, inode, Verdict.UNKNOWN, shared, reason="the node's namespace is unreadable"
        )
    if inode == host.namespaces.get(ns_type):
        return NamespaceVerdict(ns_type, inode, Verdict.HOST, shared)
    if shared:
        return NamespaceVerdict(ns_type, inode, Verdict.POD, True)
    owner = owners.get((ns_type, inode))
    if owner is not None and owner != own_pod:
        return NamespaceVerdict(ns_type, inode, Verdict.OTHER, False, other_pod=owner)
    return NamespaceVerdict(ns_type, inode, Verdict.PRIVATE, False)


def judge_pod(
    pod: PodCandidate, processes: Mapping[int, Process], host: HostReference, owners: Owners
) -> Pod:
    """The pod with a verdict for every namespace of each container's init process."""
    own = pod.ref
    containers: list[Container] = []
    # Within one pod a verdict depends only on (type, inode, read error), and a pod's containers
    # share most of their namespaces: each distinct one is judged once. Building a verdict is
    # most of what pairing costs on a node with thousands of containers.
    judged_once: dict[tuple[str, int | None, str], NamespaceVerdict] = {}
    for member in pod.members:
        process = processes.get(member.pid) if member.pid is not None else None
        namespaces = process.namespaces if process else {}
        errors = process.ns_errors if process else {}
        types = [t for t in ALL_NS_TYPES if t in namespaces] + sorted(
            set(namespaces) - set(ALL_NS_TYPES)
        )
        verdicts = {}
        for t in types:
            key = (t, namespaces[t], errors.get(t, ""))
            verdict = judged_once.get(key)
            if verdict is None:
                verdict = judged_once[key] = judge(
                    t, key[1], key[2], sandbox=pod.sandbox.namespaces, host=host, owners=owners,
                    own_pod=own,
                )  # fmt: skip
            verdicts[t] = verdict
        containers.append(Container(member.identity, member.pid, member.pids, verdicts))
    return Pod(
        runtime=pod.runtime,
        evidence=pod.evidence,
        name=pod.name,
        namespace=pod.namespace,
        uid=pod.uid,
        sandbox=pod.sandbox,
        containers=tuple(containers),
        intent=pod.intent,
        requested=pod.requested,
        mismatches=pod_mismatches(pod, containers),
        host_use=host_use(pod, containers, host),
        names_from=pod.names_from,
        grouping=pod.grouping,
        labels=pod_labels(pod),
    )


def pod_labels(pod: PodCandidate) -> Mapping[str, str] | None:
    """The API's labels where the pod's intent has them (a label set on a running pod changes
    them, never the sandbox's copy), else the runtime's."""
    if pod.intent is not None and pod.intent.labels is not None:
        return pod.intent.labels
    return pod.labels


def host_use(
    pod: PodCandidate, containers: Sequence[Container], host: HostReference
) -> dict[str, tuple[str, ...]]:
    """For each spec type whose node namespace the pod uses (hostNetwork, hostIPC, hostPID),
    the app containers in it; the pod uses it too when its sandbox is in it."""
    used: dict[str, tuple[str, ...]] = {}
    for ns_type in SPEC_TYPES:
        names = tuple(
            c.name
            for c in containers
            if ns_type in c.namespaces and c.namespaces[ns_type].verdict is Verdict.HOST
        )
        sandbox_inode = pod.sandbox.namespaces.get(ns_type)
        if names or (sandbox_inode is not None and sandbox_inode == host.namespaces.get(ns_type)):
            used[ns_type] = names
    return used
