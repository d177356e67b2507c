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

from nsinspect.agent.lineage import container_init_pid
from nsinspect.agent.model import (
    Container,
    ContainerIdentity,
    HostReference,
    PinnedNamespace,
    Pod,
    Process,
    Role,
    Sandbox,
    SandboxProcess,
)

PAUSE_COMMS = frozenset({"pause", "catatonit"})
RUNTIME = "none"
SOURCE = "namespaces"

# net/ipc/uts triple -> the group's members, its name, the host's pid namespace, and its pod.
GroupMemo = dict[tuple[int, int, int], tuple[list[Process], str, int | None, Pod | None]]


def group_by_namespaces(
    processes: Mapping[int, Process],
    host: HostReference,
    pins: Sequence[PinnedNamespace],
    memo: GroupMemo | None = None,
) -> list[Pod]:
    """The pods that processes sharing a net+ipc+uts triple form.

    `memo`, kept by the caller from one scan to the next and refreshed here, gives back the pod
    of a group whose members are the very same Process objects as before (the scanner reuses
    the object of a process that reads as it did): the same input, so the same pod, unbuilt.
    """
    host_triple = tuple(host.namespaces.get(t) for t in ("net", "ipc", "uts"))
    groups: dict[tuple[int, int, int], list[Process]] = defaultdict(list)
    for process in processes.values():
        namespaces = process.namespaces
        net, ipc, uts = namespaces.get("net"), namespaces.get("ipc"), namespaces.get("uts")
        if net is None or ipc is None or uts is None or (net, ipc, uts) == host_triple:
            continue
        groups[(net, ipc, uts)].append(process)

    net_names = {pin.inode: pin.path.rsplit("/", 1)[-1] for pin in pins if pin.ns_type == "net"}
    host_pid_ns = host.namespaces.get("pid")
    built: GroupMemo = {}
    pods = []
    for triple, members in groups.items():
        name = net_names.get(triple[0]) or f"net-{triple[0]}"
        known = memo.get(triple) if memo is not None else None
        if (
            known is not None
            and known[1:3] == (name, host_pid_ns)
            and same_objects(known[0], members)
        ):
            pod = known[3]
        else:
            pod = _pod_from_group(members, processes, host, name)
        built[triple] = (members, name, host_pid_ns, pod)
        if pod is not None:
            pods.append(pod)
    if memo is not None:
        memo.clear()
        memo.update(built)
    return pods


def same_objects(first: Sequence[object], second: Sequence[object]) -> bool:
    return len(first) == len(second) and all(a is b for a, b in zip(first, second, strict=True))


def _pod_from_group(
    members: list[Process], processes: Mapping[int, Process], host: HostReference, name: str
) -> Pod | None:
    sandbox_process = min(members, key=lambda p: (p.comm not in PAUSE_COMMS, p.start_time, p.pid))
    sandbox_mnt = sandbox_process.namespaces.get("mnt")
    by_mount: dict[int | None, list[int]] = defaultdict(list)
    for process in members:
        if process.namespaces.get("mnt") != sandbox_mnt:
            by_mount[process.namespaces.get("mnt")].append(process.pid)
    if not by_mount:
        return None

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
            runtime=RUNTIME,
            id="",
            role=Role.APP,
            sandbox_id="",
            name=f"{init.comm}-{init.pid}",
            pod_name=name,
            source=SOURCE,
        )
        containers.append(Container(identity, init.pid, tuple(sorted(pids)), {}))
    containers.sort(key=lambda c: c.identity.name)

    sandbox = Sandbox(
        id="",
        pid=sandbox_process.pid,
        process=SandboxProcess.PRESENT,
        namespaces=dict(sandbox_process.namespaces),
        comm=sandbox_process.comm,
        start_time=sandbox_process.start_time,
    )
    return Pod(
        runtime=RUNTIME,
        source=SOURCE,
        name=name,
        namespace="",
        uid="",
        sandbox=sandbox,
        containers=tuple(containers),
    )
