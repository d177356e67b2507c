"""What one scan concluded, kept for the next: the one place where results are reused.

On a node most pods are as they were from one scan to the next even when some process changed.
Each result is kept under what identifies it (a pod's runtime, namespace, name and uid; a
namespace group's net/ipc/uts triple) together with every input it was computed from, and is
handed back only when those inputs are equal again. The scanner gives back the very same
Process object for a process that reads as before, so most of these comparisons end at the
first identity check. A result is the same with or without the cache.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..model import Finding, HostReference, Pod, PodIdentityKey, PodRef, Process
from ..pairing import (
    NamespaceGroup,
    Owners,
    PairingInput,
    PairingResult,
    PodCandidate,
    compute_findings,
    group_pod,
    judge_pod,
    pair,
)
from ..runtimes.cgroups import CgroupMatch, match_cgroup

# What pairing concludes from one scan: pods and orphans, and the findings about them.
Paired = tuple[PairingResult, tuple[Finding, ...]]
# identity -> the candidate, its containers' init processes, and the pod judged from them.
Judged = dict[PodIdentityKey, tuple[PodCandidate, tuple[Process | None, ...], Pod]]
# net/ipc/uts triple -> the group, the host's pid namespace, and the pod it formed (if any).
Groups = dict[tuple[int, int, int], tuple[NamespaceGroup, int | None, PodCandidate | None]]


class ScanCache:
    """Pairing and its per-pod steps (see `pairing.PodSteps`), and cgroup matches per process."""

    def __init__(self) -> None:
        self._paired: tuple[PairingInput, Paired] | None = None
        self._groups: Groups = {}
        self._judged: Judged = {}
        self._judged_with: tuple[HostReference, dict[tuple[str, int], PodRef]] | None = None
        self._matches: dict[int, tuple[int, CgroupMatch | None]] = {}

    def pair(self, given: PairingInput) -> Paired:
        """Pairing and findings. A scan whose input equals the previous one's concludes the
        same, reused whole; otherwise the pods whose own inputs are unchanged are."""
        if self._paired is not None and self._paired[0] == given:
            return self._paired[1]
        result = pair(given, self)
        paired = (result, compute_findings(result.pods, result.orphans, given.unread))
        self._paired = (given, paired)
        return paired

    def group_pods(
        self, groups: Sequence[NamespaceGroup], host: HostReference
    ) -> list[PodCandidate]:
        """A group's pod depends on its members and the host's pid namespace alone."""
        host_pid_ns = host.namespaces.get("pid")
        kept: Groups = {}
        pods = []
        for group in groups:
            known = self._groups.get(group.triple)
            if known is not None and known[1] == host_pid_ns and known[0] == group:
                pod = known[2]
            else:
                pod = group_pod(group, host)
            kept[group.triple] = (group, host_pid_ns, pod)
            if pod is not None:
                pods.append(pod)
        self._groups = kept
        return pods

    def judge_pods(
        self,
        pods: Sequence[PodCandidate],
        processes: Mapping[int, Process],
        host: HostReference,
        owners: Owners,
    ) -> list[Pod]:
        """A pod's verdicts depend on the pod, its containers' init processes, the host and
        which pod owns each sandbox namespace."""
        context = (host, dict(owners))
        previous = self._judged if context == self._judged_with else {}
        kept: Judged = {}
        judged = []
        for pod in pods:
            inits = tuple(processes.get(m.pid) if m.pid is not None else None for m in pod.members)
            known = previous.get(pod.identity_key)
            if known is not None and known[1] == inits and known[0] == pod:
                result = known[2]
            else:
                result = judge_pod(pod, processes, host, owners)
            kept[pod.identity_key] = (pod, inits, result)
            judged.append(result)
        self._judged, self._judged_with = kept, context
        return judged

    def memberships(self, processes: Mapping[int, Process]) -> dict[int, CgroupMatch]:
        """pid -> the container its cgroup names, kept while the pid keeps its start time."""
        memberships: dict[int, CgroupMatch] = {}
        # Processes share a handful of cgroups: match each distinct set of paths once a scan.
        by_paths: dict[tuple[str, ...], CgroupMatch | None] = {}
        for pid, process in processes.items():
            cached = self._matches.get(pid)
            if cached is None or cached[0] != process.start_time:
                paths = process.cgroup_paths
                if paths not in by_paths:
                    by_paths[paths] = match_cgroup(paths)
                cached = (process.start_time, by_paths[paths])
                self._matches[pid] = cached
            if cached[1] is not None:
                memberships[pid] = cached[1]
        for gone in self._matches.keys() - processes.keys():
            del self._matches[gone]
        return memberships
