"""One runtime's pod (podman, a CRI pod, ...) without reading every process whole.

Who a container is comes from its cgroup, so the cgroup of every process is read (one read
each, against the dozen of a full scan); the runtimes are found and asked as a scan asks them.
Then only the pod's processes are read whole, with the rest of their network namespaces (the
sockets' owners) and, as for a group (agent/scanner/targeted.py), whatever may be another pod's
sandbox in one of their namespaces, with that pod.

Unsettled, and left to the full scan: no pod or several of that name (its errors say which),
a pod named from cgroups alone (the API server may name it), a net namespace pinned under that
name (a pod no runtime knows may go by it), a pod in the node's network namespace (any process
of the node's may own its sockets), and anything unreadable, a runtime's state included.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping

from ..discovery.procfs import CGROUP_CAP, parse_cgroup
from ..discovery.runtime_processes import RuntimeProcessReader
from ..model import ContainerIdentity, Evidence, Snapshot
from ..model.bounded_read import read_capped
from ..runtimes.cgroups import CgroupMatch, match_cgroup
from ..runtimes.identities import NOT_PRESENT, IdentityResolution
from ..runtimes.registry import RuntimeRegistry
from .builder import searchable_reason
from .proc_links import UnsettledError
from .targeted import Surroundings, TargetedScan, settled

PodKey = tuple[str, str]  # (runtime, sandbox id or `uid:<pod uid>`), as pairing groups pods


def runtime_pod_snapshot(scan: TargetedScan, name: str, namespace: str | None) -> Snapshot:
    around = scan.surroundings()
    if any(pin.ns_type == "net" and os.path.basename(pin.path) == name for pin in around.pins):
        raise UnsettledError(f"a network namespace is pinned as {name!r}")
    memberships = _memberships(scan.proc_root, around)
    identities = _identities(scan, around, memberships)
    if any(i.evidence is Evidence.CGROUP for i in identities.values()):
        raise UnsettledError("pods known from their cgroups alone")
    pods: dict[PodKey, list[int]] = defaultdict(list)
    for pid, match in memberships.items():
        identity = identities.get(match.container_id)
        if identity is not None:
            pods[_pod_key(identity)].append(pid)
    named = {
        _pod_key(i)
        for i in identities.values()
        if i.pod_name == name
        and (namespace is None or i.pod_namespace == namespace)
        and _pod_key(i) in pods
    }
    if len(named) != 1:
        raise UnsettledError(f"{len(named)} pods of that name")
    own = pods[named.pop()]
    if around.host.namespaces.get("net") in {around.links.inode("net", p) for p in own}:
        # Who else may own a socket of the pod's: in the node's network namespace
        # (hostNetwork), every process of the node's; a full scan.
        raise UnsettledError("the pod uses the node's network namespace")
    complete = _Completion(scan, around, memberships, identities, pods)
    # The pod, with the rest of its network namespaces (the sockets' owners) and the pods and
    # groups there: all whole, so that pairing what was read finds each of them as a scan does.
    scan.read(around.processes, complete(own), around.errors)
    scan.close_over(around, own, frozenset(), complete)
    settled(around.errors, around.host)
    read = {
        pid: match.container_id
        for pid, match in memberships.items()
        if pid in around.processes and match.container_id in identities
    }
    return scan.finish(around, read, identities)


class _Completion:
    """Processes, with every process of their pods and of their network namespaces (but the
    node's), and so on until nothing is added: what was read then holds each pod and group
    it touches whole, never a part that pairing would take for something else."""

    def __init__(
        self,
        scan: TargetedScan,
        around: Surroundings,
        memberships: Mapping[int, CgroupMatch],
        identities: Mapping[str, ContainerIdentity],
        pods: Mapping[PodKey, list[int]],
    ) -> None:
        self.scan, self.around = scan, around
        self.memberships, self.identities, self.pods = memberships, identities, pods
        self._nets: dict[int, list[int]] = {}

    def __call__(self, pids: Iterable[int]) -> list[int]:
        links, host_net = self.around.links, self.around.host.namespaces.get("net")
        seen: set[int] = set()
        pending = list(pids)
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            more = self._pod_of(pid)
            net = links.inode("net", pid)
            if net is not None and net != host_net:
                if net not in self._nets:
                    self._nets[net] = links.holding("net", net)
                more = [*more, *self._nets[net]]
            pending += [p for p in more if p not in seen]
        return sorted(seen)

    def _pod_of(self, pid: int) -> list[int]:
        match = self.memberships.get(pid)
        identity = self.identities.get(match.container_id) if match is not None else None
        return self.pods.get(_pod_key(identity), []) if identity is not None else []


def _pod_key(identity: ContainerIdentity) -> PodKey:
    return (identity.runtime, identity.sandbox_id or f"uid:{identity.pod_uid}")


def _memberships(proc_root: str, around: Surroundings) -> dict[int, CgroupMatch]:
    """pid -> the container its cgroup names, for every process, in pid order (as a scan)."""
    memberships: dict[int, CgroupMatch] = {}
    by_text: dict[bytes, CgroupMatch | None] = {}
    known = around.processes
    for pid in sorted({*around.links.pids, *known}):
        if pid in known:
            paths = known[pid].cgroup_paths
            found = match_cgroup(paths) if paths else None
        else:
            try:
                text = read_capped(f"{proc_root}/{pid}/cgroup", CGROUP_CAP)
            except FileNotFoundError:
                continue  # exited
            except OSError as exc:
                raise UnsettledError(f"{proc_root}/{pid}/cgroup: {exc}") from exc
            if text not in by_text:
                paths, malformed = parse_cgroup(text.decode("utf-8", "replace"))
                if malformed:
                    raise UnsettledError(f"{proc_root}/{pid}/cgroup: malformed")
                by_text[text] = match_cgroup(paths) if paths else None
            found = by_text[text]
        if found is not None:
            memberships[pid] = found
    return memberships


def _identities(
    scan: TargetedScan, around: Surroundings, memberships: Mapping[int, CgroupMatch]
) -> dict[str, ContainerIdentity]:
    """The runtimes' answers, found and asked as a scan finds and asks them."""
    config = scan.config
    host_mnt = around.host.namespaces.get("mnt")
    found = RuntimeProcessReader(scan.proc_root).read(around.runtimes, host_mnt, memberships)
    registry = RuntimeRegistry(config.host_root, config.state_dirs, config.cri_sockets)
    located = registry.locate(found)
    identities, reasons = IdentityResolution().identify(
        [entry.resolver for entry in located], memberships, around.processes, around.errors
    )
    for entry, reason in zip(located, reasons, strict=True):
        if reason == NOT_PRESENT and searchable_reason(config.host_root, entry.location):
            raise UnsettledError(f"{entry.location.shown_path} cannot be searched")
    return identities
