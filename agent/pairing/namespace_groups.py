"""Pods found by their namespaces alone, where no runtime describes the processes.

Processes that share a net+ipc+uts triple, each of the three other than the host's, form a
group. Its holder (the sandbox) is the pause-like member (`pause`, `catatonit`) or, failing that,
the longest-lived one. A group is a pod only when processes joined the holder's namespaces from
outside its process tree, as a runtime joins a sandbox (runc enters the pause container's
namespaces with setns), and at least one of them has a root filesystem (mount namespace) of its
own. A tree that unshared its own namespaces (a systemd service with PrivateNetwork=yes, a
browser sandbox, `unshare --net --ipc --uts --fork sh`) has no such process, even when one of its
children also unshared a mount namespace; so has a net namespace that `ip netns exec` gives to
unrelated commands (the node's ipc and uts). The joined processes form the app containers, one
per mount namespace.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import msgspec

from ..model import (
    PAUSE_COMMS,
    POD_SHARED_TYPES,
    ContainerIdentity,
    Evidence,
    HostReference,
    NameSource,
    NamespaceGrouping,
    PinnedNamespace,
    Process,
    Role,
    Runtime,
    Sandbox,
    SandboxProcess,
    container_init_pid,
)
from .candidates import ContainerProcesses, PodCandidate


class NamespaceGroup(msgspec.Struct, frozen=True):
    """Processes that share one net+ipc+uts triple, and the name the group goes by."""

    triple: tuple[int, int, int]
    name: str  # the netns pin's name (`ip netns add NAME`, `cni-...`), else `net-<inode>`
    members: tuple[Process, ...]


def namespace_groups(
    processes: Mapping[int, Process], host: HostReference, pins: Sequence[PinnedNamespace]
) -> list[NamespaceGroup]:
    """The groups of processes sharing a net+ipc+uts triple in which none is the host's."""
    host_net, host_ipc, host_uts = (host.namespaces.get(t) for t in POD_SHARED_TYPES)
    groups: dict[tuple[int, int, int], list[Process]] = defaultdict(list)
    for process in processes.values():
        namespaces = process.namespaces
        net, ipc, uts = namespaces.get("net"), namespaces.get("ipc"), namespaces.get("uts")
        if net is None or ipc is None or uts is None:
            continue
        if net == host_net or ipc == host_ipc or uts == host_uts:
            continue
        groups[(net, ipc, uts)].append(process)
    net_names = {pin.inode: pin.path.rsplit("/", 1)[-1] for pin in pins if pin.ns_type == "net"}
    return [
        NamespaceGroup(triple, net_names.get(triple[0]) or f"net-{triple[0]}", tuple(members))
        for triple, members in groups.items()
    ]


def tree_tops(members: Sequence[Process]) -> dict[int, int]:
    """pid -> the top of its process tree within the group: its furthest ancestor that is still
    a member. A process whose parent is no member (a runtime's shim, `nsenter`, init after its
    parent exited) is a top itself."""
    parents = {process.pid: process.ppid for process in members}
    tops: dict[int, int] = {}
    for pid in parents:
        chain = [pid]
        top = pid
        # Bounded by the group's size: a cycle (pids reused while the scan read them) ends it.
        while parents.get(top) in parents and len(chain) <= len(parents):
            top = parents[top]
            if top in tops:
                top = tops[top]
                break
            chain.append(top)
        for member in chain:
            tops[member] = top
    return tops


def group_pod(group: NamespaceGroup, host: HostReference) -> PodCandidate | None:
    """The pod a group forms, or None where no process joined its holder from outside."""
    members = group.members
    holder = min(members, key=lambda p: (p.comm not in PAUSE_COMMS, p.start_time, p.pid))
    holder_mnt = holder.namespaces.get("mnt")
    tops = tree_tops(members)
    holder_top = tops[holder.pid]
    by_mount: dict[int | None, list[int]] = defaultdict(list)
    for process in members:
        joined = tops[process.pid] != holder_top
        if joined and process.namespaces.get("mnt") != holder_mnt:
            by_mount[process.namespaces.get("mnt")].append(process.pid)
    if not by_mount:
        return None

    processes = {process.pid: process for process in members}
    containers = [_container(pids, processes, group.name, host) for pids in by_mount.values()]
    containers.sort(key=lambda c: c.identity.name)
    joined_tops = sorted({tops[pid] for pids in by_mount.values() for pid in pids})

    sandbox = Sandbox(
        id="",
        pid=holder.pid,
        process=SandboxProcess.PRESENT,
        namespaces=dict(holder.namespaces),
        comm=holder.comm,
        start_time=holder.start_time,
    )
    return PodCandidate(
        runtime=Runtime.NONE,
        evidence=Evidence.NAMESPACES,
        name=group.name,
        namespace="",
        uid="",
        sandbox=sandbox,
        members=tuple(containers),
        grouping=NamespaceGrouping(holder.pid, holder.comm, tuple(joined_tops)),
        # What kube_names concludes of a pod no runtime named: said here, the pod is handed on
        # as it is instead of copied in every scan.
        names_from=NameSource.PLACEHOLDER,
    )


def _container(
    pids: list[int], processes: Mapping[int, Process], pod_name: str, host: HostReference
) -> ContainerProcesses:
    """The app container of the joined processes in one mount namespace."""
    # A launcher (unshare --fork, a shim) may sit in the container's mount namespace but
    # outside its pid namespace; the container's own init is inside.
    host_pid_ns = host.namespaces.get("pid")
    inside = [pid for pid in pids if processes[pid].namespaces.get("pid") != host_pid_ns]
    init_pid = container_init_pid(inside or pids, processes)
    assert init_pid is not None  # never called with no pids
    init = processes[init_pid]
    identity = ContainerIdentity(
        runtime=Runtime.NONE,
        id="",
        role=Role.APP,
        sandbox_id="",
        name=f"{init.comm}-{init.pid}",
        pod_name=pod_name,
        evidence=Evidence.NAMESPACES,
        names_from=NameSource.PLACEHOLDER,
    )
    return ContainerProcesses(identity, init.pid, tuple(sorted(pids)))
