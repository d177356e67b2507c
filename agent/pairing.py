"""Pair each pod's sandbox with its app containers and judge every namespace they hold.

A pure function of what the scan and the runtimes found: no I/O, so every rule here is tested
without root.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from nsinspect.agent.discovery.mounts import canonical_path
from nsinspect.agent.fallback import GroupMemo, group_by_namespaces, same_objects
from nsinspect.agent.lineage import container_init_pid
from nsinspect.agent.model import (
    ALL_NS_TYPES,
    Container,
    ContainerIdentity,
    HostReference,
    NamespaceVerdict,
    PinnedNamespace,
    Pod,
    PodIntent,
    Process,
    Role,
    Sandbox,
    SandboxProcess,
    Verdict,
)


@dataclass(frozen=True, slots=True)
class PairingInput:
    processes: Mapping[int, Process]
    memberships: Mapping[int, str]  # pid -> id of the runtime container it runs in
    identities: Mapping[str, ContainerIdentity]  # container id -> identity
    host: HostReference
    pins: Sequence[PinnedNamespace] = ()
    intents: Mapping[str, PodIntent] = field(default_factory=dict)  # pod uid -> intent


@dataclass(frozen=True, slots=True)
class PairingResult:
    pods: tuple[Pod, ...]
    orphans: tuple[PinnedNamespace, ...]


# (runtime, namespace, name, uid) -> the pod before judging, its containers' init processes, and
# the pod judged.
JudgedMemo = dict[tuple[str, str, str, str], tuple[Pod, tuple[Process | None, ...], Pod]]


@dataclass(slots=True)
class PairingMemo:
    """What one pairing built, kept by the caller for the next scan's pairing to take again
    where its input is unchanged; the result is the same with or without it. On a node most
    pods stay as they were from one scan to the next even when some process changed."""

    groups: GroupMemo = field(default_factory=dict)
    host: HostReference | None = None
    owners: dict[tuple[str, int], str] = field(default_factory=dict)
    judged: JudgedMemo = field(default_factory=dict)


def pair(given: PairingInput, memo: PairingMemo | None = None) -> PairingResult:
    """Pods from runtime containers, then pods found by shared namespaces alone, then orphans."""
    pids_by_container: dict[str, list[int]] = defaultdict(list)
    for pid, container_id in given.memberships.items():
        if container_id in given.identities and pid in given.processes:
            pids_by_container[container_id].append(pid)

    runtime_pods = [
        _runtime_pod(members, pids_by_container, given)
        for members in _group_by_sandbox(given.identities, pids_by_container).values()
    ]
    claimed = {pid for pids in pids_by_container.values() for pid in pids}
    taken_nets = {
        pod.sandbox.namespaces.get("net") for pod in runtime_pods if pod.sandbox.namespaces
    }
    unclaimed = {
        pid: process
        for pid, process in given.processes.items()
        if pid not in claimed and process.namespaces.get("net") not in taken_nets
    }
    found_pods = group_by_namespaces(
        unclaimed, given.host, given.pins, memo.groups if memo is not None else None
    )
    all_pods = runtime_pods + found_pods

    owners = _sandbox_owners(all_pods, given.host)
    judged = tuple(
        sorted(
            _judge_all(all_pods, given, owners, memo),
            key=lambda pod: (pod.namespace, pod.name, pod.uid),
        )
    )
    return PairingResult(judged, _orphans(given.pins, given.processes, judged))


def _judge_all(
    pods: Sequence[Pod],
    given: PairingInput,
    owners: dict[tuple[str, int], str],
    memo: PairingMemo | None,
) -> list[Pod]:
    """Each pod with its verdicts. A verdict depends on the pod, its containers' init processes,
    the host and which pod owns each sandbox namespace: where all of these are as the memo has
    them, the pod judged last time is the answer."""
    reusable = memo is not None and memo.host == given.host and memo.owners == owners
    previous: JudgedMemo = memo.judged if memo is not None and reusable else {}
    judged_now: JudgedMemo = {}
    result = []
    for pod in pods:
        key = (pod.runtime, pod.namespace, pod.name, pod.uid)
        inits = tuple(
            given.processes.get(c.pid) if c.pid is not None else None for c in pod.containers
        )
        known = previous.get(key)
        if (
            known is not None
            and (known[0] is pod or known[0] == pod)
            and same_objects(known[1], inits)
        ):
            judged = known[2]
        else:
            judged = _with_verdicts(pod, given.processes, given.host, owners)
        judged_now[key] = (pod, inits, judged)
        result.append(judged)
    if memo is not None:
        memo.host, memo.owners, memo.judged = given.host, owners, judged_now
    return result


def _group_by_sandbox(
    identities: Mapping[str, ContainerIdentity], pids_by_container: Mapping[str, list[int]]
) -> dict[tuple[str, str], list[ContainerIdentity]]:
    groups: dict[tuple[str, str], list[ContainerIdentity]] = defaultdict(list)
    for container_id in pids_by_container:
        identity = identities[container_id]
        # Without a known sandbox (a pod found from cgroups alone with no pause-like
        # container), the pod uid still keeps pods apart.
        pod_key = identity.sandbox_id or f"uid:{identity.pod_uid}"
        groups[(identity.runtime, pod_key)].append(identity)
    return groups


def _runtime_pod(
    members: list[ContainerIdentity],
    pids_by_container: Mapping[str, list[int]],
    given: PairingInput,
) -> Pod:
    sandbox_identity = next((m for m in members if m.role is Role.SANDBOX), None)
    apps = sorted((m for m in members if m.role is Role.APP), key=lambda m: (m.name, m.id))
    described_by = sandbox_identity or apps[0]

    if sandbox_identity is not None:
        sandbox_pid = container_init_pid(
            pids_by_container[sandbox_identity.id], given.processes, sandbox_identity.init_pid
        )
        assert sandbox_pid is not None  # the group exists because the container has processes
        holder = given.processes[sandbox_pid]
        sandbox = Sandbox(
            id=sandbox_identity.id,
            pid=sandbox_pid,
            process=SandboxProcess.PRESENT,
            namespaces=dict(holder.namespaces),
            comm=holder.comm,
            start_time=holder.start_time,
        )
    else:
        # A sandbox its runtime still describes although no process runs in it (CRI-O's
        # pods without an infra container): its spec names the pinned namespaces.
        recorded = given.identities.get(described_by.sandbox_id)
        if recorded is not None and recorded.role is Role.SANDBOX:
            sandbox_identity = recorded
        described = [sandbox_identity, *apps] if sandbox_identity else apps
        sandbox = _sandbox_without_process(described_by.sandbox_id, described, given.pins)

    containers = tuple(
        Container(
            identity=app,
            pid=container_init_pid(pids_by_container[app.id], given.processes, app.init_pid),
            pids=tuple(sorted(pids_by_container[app.id])),
            namespaces={},
        )
        for app in apps
    )
    return Pod(
        runtime=described_by.runtime,
        source=described_by.source,
        name=described_by.pod_name,
        namespace=described_by.pod_namespace,
        uid=described_by.pod_uid,
        sandbox=sandbox,
        containers=containers,
        intent=given.intents.get(described_by.pod_uid),
        requested=_pod_requested(sandbox_identity, apps),
    )


def _pod_requested(
    sandbox: ContainerIdentity | None, apps: Sequence[ContainerIdentity]
) -> dict[str, str]:
    """What the pod asked for: its sandbox's options, completed by what all its app
    containers agree on (a sandbox's spec cannot tell a shared pid namespace from private)."""
    requested = dict(sandbox.requested) if sandbox else {}
    for ns_type in sorted({t for app in apps for t in app.requested} - set(requested)):
        modes = {app.requested.get(ns_type) for app in apps}
        agreed = modes.pop() if len(modes) == 1 else None
        if agreed is not None:
            requested[ns_type] = agreed
    return requested


def _sandbox_without_process(
    sandbox_id: str, described: Sequence[ContainerIdentity], pins: Sequence[PinnedNamespace]
) -> Sandbox:
    """A sandbox whose process is gone: pinned if bind mounts still hold what the apps joined.

    `described` are the sandbox's own identity (when its runtime still describes it) and its
    app containers; the first path found for a type wins.
    """
    pin_by_path = {pin.path: pin for pin in pins}
    namespaces: dict[str, int | None] = {}
    pinned_paths: dict[str, str] = {}
    for identity in described:
        for ns_type, path in identity.namespace_paths.items():
            if ns_type in namespaces:
                continue
            pin = pin_by_path.get(canonical_path(path))
            if pin is not None and pin.ns_type == ns_type:
                namespaces[ns_type] = pin.inode
                pinned_paths[ns_type] = pin.path
    return Sandbox(
        id=sandbox_id,
        pid=None,
        process=SandboxProcess.PINNED if namespaces else SandboxProcess.MISSING,
        namespaces=namespaces,
        pins=pinned_paths,
    )


def _sandbox_owners(pods: Sequence[Pod], host: HostReference) -> dict[tuple[str, int], str]:
    """(type, inode) of every sandbox namespace that is not the host's -> its pod's key."""
    owners: dict[tuple[str, int], str] = {}
    for pod in pods:
        for ns_type, inode in pod.sandbox.namespaces.items():
            if inode is not None and inode != host.namespaces.get(ns_type):
                owners.setdefault((ns_type, inode), pod.key)
    return owners


def judge(
    ns_type: str,
    inode: int | None,
    error: str,
    *,
    sandbox: Mapping[str, int | None],
    host: HostReference,
    owners: Mapping[tuple[str, int], str],
    own_pod: str,
) -> NamespaceVerdict:
    """One container's namespace of one type, relative to its sandbox, the node and other pods."""
    sandbox_inode = sandbox.get(ns_type)
    if inode is None:
        return NamespaceVerdict(ns_type, None, Verdict.UNKNOWN, False, reason=error or "unreadable")
    shared = sandbox_inode == inode
    if inode == host.namespaces.get(ns_type):
        return NamespaceVerdict(ns_type, inode, Verdict.HOST, shared)
    if shared:
        return NamespaceVerdict(ns_type, inode, Verdict.POD, True)
    owner = owners.get((ns_type, inode))
    if owner is not None and owner != own_pod:
        return NamespaceVerdict(ns_type, inode, Verdict.OTHER, False, other_pod=owner)
    return NamespaceVerdict(ns_type, inode, Verdict.PRIVATE, False)


def _with_verdicts(
    pod: Pod,
    processes: Mapping[int, Process],
    host: HostReference,
    owners: Mapping[tuple[str, int], str],
) -> Pod:
    judged: list[Container] = []
    # Within one pod a verdict depends only on (type, inode, read error), and a pod's containers
    # share most of their namespaces: each distinct one is judged once. Building a verdict is
    # most of what pairing costs on a node with thousands of containers.
    judged_once: dict[tuple[str, int | None, str], NamespaceVerdict] = {}
    for container in pod.containers:
        process = processes.get(container.pid) if container.pid is not None else None
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
                    t,
                    key[1],
                    key[2],
                    sandbox=pod.sandbox.namespaces,
                    host=host,
                    owners=owners,
                    own_pod=pod.key,
                )
            verdicts[t] = verdict
        judged.append(replace(container, namespaces=verdicts))
    return replace(pod, containers=tuple(judged))


def _orphans(
    pins: Sequence[PinnedNamespace], processes: Mapping[int, Process], pods: Sequence[Pod]
) -> tuple[PinnedNamespace, ...]:
    """Pinned namespaces that no process is in and no pod's sandbox stands for."""
    # Only the pinned types are looked up (pins are mostly network namespaces), not every
    # namespace of every process.
    pinned_types = {pin.ns_type for pin in pins}
    in_use = {
        (ns_type, process.namespaces.get(ns_type))
        for process in processes.values()
        for ns_type in pinned_types
    }
    in_use |= {
        (ns_type, pod.sandbox.namespaces.get(ns_type)) for pod in pods for ns_type in pinned_types
    }
    return tuple(pin for pin in pins if (pin.ns_type, pin.inode) not in in_use)
