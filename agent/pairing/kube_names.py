"""Names from Kubernetes for the pods and containers that no runtime could name.

A pod found from kubelet's cgroups alone has a uid and container ids but no names: it is called
`pod<uid>`, its containers by their short ids. The API server knows both: the pod by its uid,
each container by the `containerID` of its status. Kubernetes fills only such placeholders; a
name a runtime gave is kept, since the runtime describes the container that actually runs. (A
pod's uid and name never change in Kubernetes, so a disagreement would mean stale or forged
records on one side, and nothing here could tell which.) Every pod and container then says where
its names came from; the pod's `evidence` stays what grouped it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from msgspec.structs import replace

from ..model import Evidence, NameSource, PodIntent
from .candidates import ContainerProcesses, PodCandidate

# The evidence under which a runtime's own records named the pod and its containers.
RUNTIME_NAMED = (Evidence.CRI, Evidence.OCI_CONFIG)


def name_from_kubernetes(
    candidates: Sequence[PodCandidate], intents: Mapping[str, PodIntent]
) -> list[PodCandidate]:
    """Each pod with Kubernetes' names where it had placeholders; a pod with nothing to change
    is handed back as it was (the snapshot builder's cache compares by identity first)."""
    return [name_pod(pod, intents.get(pod.uid) if pod.uid else None) for pod in candidates]


def name_pod(pod: PodCandidate, intent: PodIntent | None) -> PodCandidate:
    members = tuple(name_container(member, intent) for member in pod.members)
    name, namespace, names_from = pod.name, pod.namespace, NameSource.RUNTIME
    if not _pod_named_by_runtime(pod):
        if intent is not None and intent.name and intent.namespace:
            name, namespace, names_from = intent.name, intent.namespace, NameSource.KUBERNETES
        else:
            names_from = NameSource.PLACEHOLDER
    unchanged = all(new is old for new, old in zip(members, pod.members, strict=True))
    if unchanged and (name, namespace, names_from) == (pod.name, pod.namespace, pod.names_from):
        return pod
    return replace(
        pod,
        name=name,
        namespace=namespace,
        names_from=names_from,
        members=tuple(sorted(members, key=lambda m: (m.identity.name, m.identity.id))),
    )


def name_container(member: ContainerProcesses, intent: PodIntent | None) -> ContainerProcesses:
    identity = member.identity
    if identity.evidence in RUNTIME_NAMED:
        return member
    given = intent.container_ids.get(identity.id, "") if intent and identity.id else ""
    name, names_from = (
        (given, NameSource.KUBERNETES) if given else (identity.name, NameSource.PLACEHOLDER)
    )
    if (name, names_from) == (identity.name, identity.names_from):
        return member
    return replace(member, identity=replace(identity, name=name, names_from=names_from))


def _pod_named_by_runtime(pod: PodCandidate) -> bool:
    """Whether the pod's namespace and name came from a runtime. A kubelet pod found from its
    cgroups has no namespace unless a runtime described the pod its containers joined."""
    if pod.evidence in RUNTIME_NAMED:
        return True
    return pod.evidence is Evidence.CGROUP and pod.namespace != ""
