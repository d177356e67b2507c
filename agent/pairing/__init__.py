"""Pair each pod's sandbox with its app containers and judge every namespace they hold.

Pure functions of what the scan and the runtimes found: no I/O and no state, so every rule is
tested without root. `pair` runs the steps in order; the two that cost per pod (building a pod
from a namespace group, judging a pod) are passed in as `steps`, so that a caller that keeps
results from one scan to the next (the snapshot builder's cache) can hand back a pod whose
inputs did not change. With the default steps nothing is kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ..model import HostReference, Pod, Process
from .candidates import ContainerProcesses, PodCandidate
from .findings import compute_findings, missing_unchecked
from .inputs import PairingInput, PairingResult
from .kube_names import name_from_kubernetes
from .namespace_groups import NamespaceGroup, group_pod, namespace_groups
from .orphans import find_orphans
from .runtime_pods import pids_by_container, runtime_pods, unclaimed_processes
from .unread import NOTHING_UNREAD, Unread, unread_from
from .verdicts import Owners, judge_pod, sandbox_owners

__all__ = [
    "NOTHING_UNREAD",
    "ContainerProcesses",
    "NamespaceGroup",
    "Owners",
    "PairingInput",
    "PairingResult",
    "PodCandidate",
    "PodSteps",
    "Unread",
    "compute_findings",
    "group_pod",
    "judge_pod",
    "pair",
    "unread_from",
]


class PodSteps(Protocol):
    """The steps of pairing that cost per pod, each a function of its arguments alone."""

    def group_pods(
        self, groups: Sequence[NamespaceGroup], host: HostReference
    ) -> list[PodCandidate]: ...

    def judge_pods(
        self,
        pods: Sequence[PodCandidate],
        processes: Mapping[int, Process],
        host: HostReference,
        owners: Owners,
    ) -> list[Pod]: ...


class PureSteps:
    """The steps themselves, computed every time."""

    def group_pods(
        self, groups: Sequence[NamespaceGroup], host: HostReference
    ) -> list[PodCandidate]:
        return [pod for group in groups if (pod := group_pod(group, host)) is not None]

    def judge_pods(
        self,
        pods: Sequence[PodCandidate],
        processes: Mapping[int, Process],
        host: HostReference,
        owners: Owners,
    ) -> list[Pod]:
        return [judge_pod(pod, processes, host, owners) for pod in pods]


def pair(given: PairingInput, steps: PodSteps | None = None) -> PairingResult:
    """Pods from runtime containers, then pods found by shared namespaces alone, then orphans."""
    steps = steps or PureSteps()
    pids = pids_by_container(given)
    candidates = runtime_pods(given, pids)
    unclaimed = unclaimed_processes(given, pids, candidates)
    candidates += steps.group_pods(namespace_groups(unclaimed, given.host, given.pins), given.host)
    candidates = name_from_kubernetes(candidates, given.intents)
    owners = sandbox_owners(candidates, given.host)
    pods = sorted(
        steps.judge_pods(candidates, given.processes, given.host, owners),
        key=lambda pod: (pod.namespace, pod.name, pod.uid),
    )
    orphans, unchecked = find_orphans(given.pins, given.processes, pods, given.unread)
    return PairingResult(tuple(pods), orphans, unchecked + missing_unchecked(pods, given.unread))
