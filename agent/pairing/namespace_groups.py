"""Pods found by their namespaces alone, where no runtime describes the processes.

Processes that share a net+ipc+uts triple other than the host's form a group. Its sandbox is the
pause-like member (`pause`, `catatonit`) or, failing that, the longest-lived one; the other members
form app containers by mount namespace, since every container has a root filesystem of its own.
A group that holds only its sandbox is not a pod: a lone process in a private network namespace is
common on any Linux box.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..model import (
    PAUSE_COMMS,
    POD_SHARED_TYPES,
    ContainerIdentity,
    Evidence,
    HostReference,
    PinnedNamespace,
    Process,
    Role,
    Runtime,
    Sandbox,
    SandboxProcess,
    container_init_pid,
)
from .candidates import ContainerProcesses, PodCandidate


@dataclass(frozen=True, slots=True)
class NamespaceGroup:
    """Processes that share one net+ipc+uts triple, and the name the group goes by."""

    triple: tuple[int, int, int]
    name: str  # the netns pin's name (`ip netns add NAME`, `cni-...`), else `net-<inode>`
    members: tuple[Process, ...]


def namespace_groups(
    processes: Mapping[int, Process], host: HostReference, pins: Sequence[PinnedNamespace]
) -> list[NamespaceGroup]:
    """The groups of processes sharing a net+ipc+uts triple other than the host's."""
    host_triple = tuple(host.namespaces.get(t) for t in POD_SHARED_TYPES)
    groups: dict[tuple[int, int, int], list[Process]] = defaultdict(list)
    for process in processes.values():
        namespaces = process.namespaces
        net, ipc, uts = namespaces.get("net"), namespaces.get("ipc"), namespaces.get("uts")
        if net is None or ipc is None or uts is None or (net, ipc, uts) == host_triple:
            continue
        groups[(net, ipc, uts)].append(process)
    net_names = {pin.inode: pin.path.rsplit("/", 1)[-1] for pin in pins if pin.ns_type == "net"}
    return [
        NamespaceGroup(triple, net_names.get(triple[0]) or f"net-{triple[0]}", tuple(members))
        for triple, members in groups.items()
    ]


def group_pod(group: NamespaceGroup, host: HostReference) -> PodCandidate | None:
    """The pod a group forms, or None for a group that is only its sandbox."""
    members = group.members
    sandbox_process = min(members, key=lambda p: (p.comm not in PAUSE_COMMS, p.start_time, p.pid))
    sandbox_mnt = sandbox_process.namespaces.get("mnt")
    by_mount: dict[int | None, list[int]] = defaultdict(list)
    for process in members:
        if process.namespaces.get("mnt") != sandbox_mnt:
            by_mount[process.namespaces.get("mnt")].append(process.pid)
    if not by_mount:
        return None

    processes = {process.pid: process for process in members}
    host_pid_ns = host.namespaces.get("pid")
    containers = []
    for pids in by_mount.values():
        # A launcher (unshare --fork, a shim) may sit in the container's mount namespace but
        # outside its pid namespace; the container's own init is inside.
        inside = [pid for pid in pids if processes[pid].namespaces.get("pid") != host_pid_ns]
        init_pid = container_init_pid(inside or pids, processes)
        assert init_pid is not None  # by_mount holds no empty group
        init = processes[init_pid]
        identity = ContainerIdentity(
            runtime=Runtime.NONE,
            id="",
            role=Role.APP,
            sandbox_id="",
            name=f"{init.comm}-{init.pid}",
            pod_name=group.name,
            evidence=Evidence.NAMESPACES,
        )
        containers.append(ContainerProcesses(identity, init.pid, tuple(sorted(pids))))
    containers.sort(key=lambda c: c.identity.name)

    sandbox = Sandbox(
        id="",
        pid=sandbox_process.pid,
        process=SandboxProcess.PRESENT,
        namespaces=dict(sandbox_process.namespaces),
        comm=sandbox_process.comm,
        start_time=sandbox_process.start_time,
    )
    return PodCandidate(
        runtime=Runtime.NONE,
        evidence=Evidence.NAMESPACES,
        name=group.name,
        namespace="",
        uid="",
        sandbox=sandbox,
        members=tuple(containers),
    )
