"""Collect a pod's inside details: its network namespace, listening sockets, UTS and IPC.

A separate step from the scan: entering namespaces and reading every fd costs tens of
milliseconds per pod, so the agent's periodic scan never does it; the single-pod report asks for
it (`pod_details`). Every step degrades instead of failing: what cannot be read becomes an
`unavailable` reason in its section.

The pids come from a snapshot up to one interval old, and a pid can be reused meanwhile. So each
pid to be entered or read is checked to be the process the scan saw (its start time) before the
first read and again after the last: a process alive at both checks was the one at that pid
throughout (a pid names one process at a time, and an exited one never returns), so every read in
between was of it. A changed or exited process makes the details unavailable with that reason,
never another process's details. (A pidfd would pin the process for setns, but the reads here go
through /proc paths, netlink and children: the second check covers all of them alike.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator

from msgspec.structs import replace

from ..discovery.privileges import (
    CAP_SYS_ADMIN,
    CAP_SYS_PTRACE,
    has_capability,
    lacking,
)
from ..discovery.procfs import read_stat
from ..model import Pod, Snapshot
from . import ipc, uts
from .details import IpcDetails, NetworkDetails, PodDetails, UtsDetails
from .netlink_reads import (
    IN_PROCESS,
    NetlinkAnswerer,
    NetlinkAnswers,
    NetlinkRequest,
    reason_of,
)
from .nsread import InsideRead, read_inside
from .peers import NodeSide, link_peers
from .procnet import procfs_view
from .sockets import (
    PodProcess,
    attach_owners,
    find_owners,
    missing_owner_reason,
    read_listening,
)


def own_net_inode() -> int | None:
    """The network namespace nsinspect itself is in (the node's, for a hostNetwork agent)."""
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return None


def holder_pid(pod: Pod, ns_type: str) -> int | None:
    """A process in the pod's namespace of `ns_type`: the sandbox, else a container known to be
    in it, else (the sandbox gone, its namespace unknown) the first running container."""
    if pod.sandbox.pid is not None:
        return pod.sandbox.pid
    running = [c for c in pod.containers if c.pid is not None]
    for container in running:
        verdict = container.namespaces.get(ns_type)
        if verdict is not None and verdict.shared_with_sandbox:
            return container.pid
    return running[0].pid if running else None


def members(pod: Pod, ns_type: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """App containers known to be in the pod's namespace of a type, and those known not to be."""
    inside: list[str] = []
    outside: list[str] = []
    for container in pod.containers:
        verdict = container.namespaces.get(ns_type)
        if verdict is None or verdict.inode is None:
            continue
        (inside if verdict.shared_with_sandbox else outside).append(container.name)
    return tuple(inside), tuple(outside)


def _socket_groups(
    pod: Pod, snapshot: Snapshot, ns_inode: int | None
) -> Iterator[list[PodProcess]]:
    """Who may own a socket, best first: the pod's containers and sandbox, then the rest of the
    namespace (another pod in it, the host's own processes for hostNetwork)."""
    comm = {pid: p.comm for pid, p in snapshot.processes.items()}
    own = [
        PodProcess(pid, "container", container=c.name, process=comm.get(pid, ""))
        for c in pod.containers
        for pid in c.pids
    ]
    if pod.sandbox.pid is not None:
        own.append(PodProcess(pod.sandbox.pid, "sandbox", process=comm.get(pod.sandbox.pid, "")))
    yield own
    if ns_inode is None:
        return
    taken = {p.pid for p in own}
    other_pods = {pid: other.key for other in snapshot.pods for pid in other.pids()}
    host_network = ns_inode == snapshot.host.namespaces.get("net")
    # Processes whose namespace is unknown may hold a socket too: try them last.
    for in_namespace in (ns_inode, None):
        yield [
            PodProcess(
                pid,
                "other-pod" if pid in other_pods else ("host" if host_network else "outside"),
                pod=other_pods.get(pid, ""),
                process=process.comm,
            )
            for pid, process in sorted(snapshot.processes.items())
            if pid not in taken and process.namespaces.get("net") == in_namespace
        ]


def _netlink_request(
    snapshot: Snapshot, pid: int, ns_inode: int | None, host_network: bool
) -> tuple[NetlinkRequest, str | None, str | None]:
    """What to read by netlink, and why the pod's or the node's namespace is not (None: it is)."""
    own_inode = own_net_inode()
    pod_own = own_inode is not None and own_inode == ns_inode
    pod_why = None if pod_own else lacking(CAP_SYS_ADMIN, "entering the pod's network namespace")
    node_own = own_inode is not None and own_inode == snapshot.host.namespaces.get("net")
    node_why = None
    if not host_network and not node_own:
        node_why = lacking(CAP_SYS_ADMIN, "entering the node's network namespace")
    request = NetlinkRequest(
        pod_path=f"{snapshot.proc_root}/{pid}/ns/net",
        pod_read=pod_why is None,
        pod_own=pod_own,
        node_path=f"{snapshot.proc_root}/{snapshot.host.pid}/ns/net",
        node_read=not host_network and node_why is None,
        node_own=node_own,
    )
    return request, pod_why, node_why


def network_details(
    pod: Pod, snapshot: Snapshot, seconds: dict[str, float], netlink: NetlinkAnswerer = IN_PROCESS
) -> NetworkDetails:
    return start_network_details(pod, snapshot, seconds, netlink)()


def start_network_details(
    pod: Pod, snapshot: Snapshot, seconds: dict[str, float], netlink: NetlinkAnswerer
) -> Callable[[], NetworkDetails]:
    """Ask for the netlink reads and read the listening sockets; the call returned takes the
    netlink answers (reads a helper may do meanwhile) and gives the network's details."""
    ns_inode = pod.sandbox.namespaces.get("net")
    host_network = ns_inode is not None and ns_inode == snapshot.host.namespaces.get("net")
    inside, outside = members(pod, "net")
    pid = holder_pid(pod, "net")
    if pid is None:
        why = {"network": "no process of the pod is running to read its network namespace from"}
        details = NetworkDetails(ns_inode, None, host_network, "", (), (), (), inside, outside, why)
        return lambda: details
    request, pod_why, node_why = _netlink_request(snapshot, pid, ns_inode, host_network)
    pending = netlink.ask(request)
    seconds["network"] = 0.0  # set by `finish`, the first key as before

    started = time.perf_counter()
    entries, table_errors = read_listening(snapshot.proc_root, pid)
    owners, unreadable = find_owners(
        snapshot.proc_root, {e.inode for e in entries}, _socket_groups(pod, snapshot, ns_inode)
    )
    missing = missing_owner_reason(unreadable, has_capability(CAP_SYS_PTRACE))
    listening = attach_owners(entries, owners, missing)
    seconds["sockets"] = time.perf_counter() - started

    def finish() -> NetworkDetails:
        started = time.perf_counter()
        answers = pending()
        # The pod's namespace: netlink where allowed, else procfs; the id it gives the node's.
        if pod_why is None and answers.pod_view is not None:
            view, node_nsid = answers.pod_view, answers.node_nsid
        else:
            failure = answers.pod_failure
            failed = pod_why or f"entering the pod's network namespace failed: {failure}"
            view, node_nsid = procfs_view(snapshot.proc_root, pid, failed), None
        unavailable = dict(view.unavailable)
        interfaces = view.interfaces
        if not host_network:
            node = _node_side(snapshot, answers, node_why)
            interfaces = link_peers(view, replace(node, node_nsid=node_nsid))
            if node.unavailable:
                unavailable["peer"] = node.unavailable
        unavailable.update({f"listening {path}": why for path, why in table_errors.items()})
        seconds["network"] = time.perf_counter() - started
        return NetworkDetails(
            ns_inode=ns_inode,
            reader_pid=pid,
            host_network=host_network,
            read_via=view.read_via,
            interfaces=interfaces,
            routes=view.routes,
            listening=listening,
            members=inside,
            outside=outside,
            unavailable=unavailable,
        )

    return finish


def _node_side(snapshot: Snapshot, answers: NetlinkAnswers, why: str | None) -> NodeSide:
    host_inode = snapshot.host.namespaces.get("net")
    if why is None and answers.node_failure:
        why = f"reading the node's network namespace failed: {answers.node_failure}"
    if why is not None:
        return NodeSide(None, host_inode, None, None, why)
    return NodeSide(
        answers.node_view, host_inode, answers.pod_nsid, None, nsid_missing=answers.nsid_missing
    )


def _read_uts_ipc(pod: Pod, snapshot: Snapshot) -> InsideRead:
    """One child joins the pod's UTS and IPC namespaces and reads both sections' files."""
    why = lacking(CAP_SYS_ADMIN, "entering the pod's UTS and IPC namespaces")
    if why is not None:
        return InsideRead(error=why)
    paths = {t: holder_pid(pod, t) for t in ("uts", "ipc")}
    if any(pid is None for pid in paths.values()):
        return InsideRead(error="no process of the pod is running to enter its namespaces from")
    return read_inside(
        {t: f"{snapshot.proc_root}/{pid}/ns/{t}" for t, pid in paths.items()},
        [*uts.PATHS, *ipc.PATHS],
    )


def changed_process(snapshot: Snapshot, pids: Iterable[int]) -> str | None:
    """Why one of `pids` is no longer the process the snapshot saw, or None when all still are."""
    for pid in sorted(set(pids)):
        seen = snapshot.processes.get(pid)
        if seen is None:
            continue  # not a process of the scan: nothing to compare with
        try:
            now = read_stat(f"{snapshot.proc_root}/{pid}/stat")
        except FileNotFoundError:
            return f"pid {pid} has exited since the scan; the pod changed: ask again"
        except (OSError, ValueError) as exc:  # parse_stat raises only ValueError
            return f"pid {pid} could not be checked against the scan: {reason_of(exc)}"
        if now.start_time != seen.start_time or now.state in ("Z", "X"):
            return (
                f"pid {pid} is no longer the process the scan saw ({seen.comm!r}, started at "
                f"tick {seen.start_time}); the pod changed since the scan: ask again"
            )
    return None


def unavailable_details(pod: Pod, snapshot: Snapshot, reason: str) -> PodDetails:
    """Every section of the details unavailable for one reason."""
    net_inode = pod.sandbox.namespaces.get("net")
    host_network = net_inode is not None and net_inode == snapshot.host.namespaces.get("net")
    return PodDetails(
        NetworkDetails(net_inode, None, host_network, "", (), (), (), (), (), {"network": reason}),
        UtsDetails(pod.sandbox.namespaces.get("uts"), None, None, None, {"uts": reason}),
        IpcDetails(
            pod.sandbox.namespaces.get("ipc"), None, None, None, None, unavailable={"ipc": reason}
        ),
    )


def pod_details(pod: Pod, snapshot: Snapshot, netlink: NetlinkAnswerer = IN_PROCESS) -> PodDetails:
    """Everything inside the pod's shared namespaces, with how long each step took; `netlink`
    does the netlink reads (in this process, or a helper's: netlink_helper.py)."""
    ipc_members, _ = members(pod, "ipc")
    candidates = [
        pid
        for pid in [pod.sandbox.pid, *(c.pid for c in pod.containers if c.name in ipc_members)]
        if pid is not None
    ]
    entered = {holder_pid(pod, t) for t in ("net", "uts", "ipc")} | set(candidates)
    checked = {pid for pid in entered if pid is not None} | {snapshot.host.pid}
    changed = changed_process(snapshot, checked)
    if changed is not None:
        return unavailable_details(pod, snapshot, changed)

    seconds: dict[str, float] = {}
    finish_network = start_network_details(pod, snapshot, seconds, netlink)

    started = time.perf_counter()
    read = _read_uts_ipc(pod, snapshot)
    uts_details = uts.describe_uts(read, pod.sandbox.namespaces.get("uts"), pod.name)
    ipc_inode = pod.sandbox.namespaces.get("ipc")
    posix = ipc.count_posix_queues(
        snapshot.proc_root,
        candidates,
        snapshot.host.pid,
        host_ipc=ipc_inode is not None and ipc_inode == snapshot.host.namespaces.get("ipc"),
    )
    ipc_details = ipc.describe_ipc(read, ipc_inode, ipc_members, posix)
    seconds["uts_ipc"] = time.perf_counter() - started
    network = finish_network()
    changed = changed_process(snapshot, checked)
    if changed is not None:
        return unavailable_details(pod, snapshot, changed)
    return PodDetails(network, uts_details, ipc_details, seconds)
