"""What a pod's spec implies for each namespace type, and where the kernel shows otherwise.

Expectations come, strongest first, from the Kubernetes pod spec (hostNetwork, hostIPC, hostPID,
shareProcessNamespace), then from what the runtime was asked for (CRI NamespaceOptions, podman's
pod configuration). They are spoken in CRI's words: POD (the sandbox's), CONTAINER (its own),
NODE (the host's). A pod with neither has no expectations, and nothing is called a mismatch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from ..model import (
    Container,
    Evidence,
    Mismatch,
    NamespaceMode,
    NamespaceVerdict,
    PodIntent,
    Runtime,
    Verdict,
)

EXPECTABLE = (NamespaceMode.POD, NamespaceMode.CONTAINER, NamespaceMode.NODE)
ACTUAL_MODE = {
    Verdict.HOST: NamespaceMode.NODE,
    Verdict.POD: NamespaceMode.POD,
    Verdict.PRIVATE: NamespaceMode.CONTAINER,
    Verdict.OTHER: NamespaceMode.OTHER,
}


class SpecHolder(Protocol):
    """What expectations are read from: a pod, or a pod not judged yet."""

    @property
    def intent(self) -> PodIntent | None: ...

    @property
    def requested(self) -> Mapping[str, NamespaceMode]: ...

    @property
    def evidence(self) -> Evidence: ...

    @property
    def runtime(self) -> Runtime: ...


def from_intent(intent: PodIntent) -> dict[str, NamespaceMode]:
    """Kubernetes semantics: UTS follows the network (a hostNetwork pod has the node's hostname)."""
    if intent.host_pid:
        pid = NamespaceMode.NODE
    else:
        pid = NamespaceMode.POD if intent.share_process_namespace else NamespaceMode.CONTAINER
    network = NamespaceMode.NODE if intent.host_network else NamespaceMode.POD
    return {
        "net": network,
        "uts": network,
        "ipc": NamespaceMode.NODE if intent.host_ipc else NamespaceMode.POD,
        "pid": pid,
    }


def expected_sharing(pod: SpecHolder) -> tuple[dict[str, NamespaceMode], str]:
    """Type -> POD/CONTAINER/NODE, and where that expectation came from."""
    if pod.intent is not None:
        return from_intent(pod.intent), "kubernetes"
    requested = {t: mode for t, mode in pod.requested.items() if mode in EXPECTABLE}
    if requested:
        return requested, str(pod.evidence if pod.evidence is Evidence.CRI else pod.runtime)
    return {}, ""


def container_mismatches(
    container: Container, expected: Mapping[str, NamespaceMode], expected_by: str
) -> list[Mismatch]:
    found = []
    for ns_type, mode in expected.items():
        verdict: NamespaceVerdict | None = container.namespaces.get(ns_type)
        if verdict is None or verdict.verdict is Verdict.UNKNOWN:
            continue  # nothing can be said about what cannot be read
        actual = ACTUAL_MODE[verdict.verdict]
        if actual != mode:
            found.append(
                Mismatch(container.name, ns_type, mode, actual, expected_by, verdict.inode)
            )
    return found


def pod_mismatches(pod: SpecHolder, containers: Iterable[Container]) -> tuple[Mismatch, ...]:
    """Every (container, type) where the kernel differs from what the spec implies."""
    expected, expected_by = expected_sharing(pod)
    if not expected:
        return ()
    return tuple(m for c in containers for m in container_mismatches(c, expected, expected_by))
