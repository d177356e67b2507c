"""What a pod's spec implies for each namespace type, and where the kernel shows otherwise.

Expectations come, strongest first, from the Kubernetes pod spec (hostNetwork, hostIPC, hostPID,
shareProcessNamespace), then from what the runtime was asked for (CRI NamespaceOptions, podman's
pod configuration). They are spoken in CRI's words: POD (the sandbox's), CONTAINER (its own),
NODE (the host's). A pod with neither has no expectations, and nothing is called a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass

from nsinspect.agent.model import Container, NamespaceVerdict, Pod, PodIntent, Verdict

POD, CONTAINER, NODE = "POD", "CONTAINER", "NODE"
CHECKED_TYPES = ("net", "ipc", "uts", "pid")


@dataclass(frozen=True, slots=True)
class Mismatch:
    container: str
    ns_type: str
    expected: str  # POD, CONTAINER or NODE
    actual: str  # the same words, or OTHER / UNKNOWN
    source: str  # kubernetes, cri, podman...
    inode: int | None


def from_intent(intent: PodIntent) -> dict[str, str]:
    """Kubernetes semantics: UTS follows the network (a hostNetwork pod has the node's hostname)."""
    pid = NODE if intent.host_pid else (POD if intent.share_process_namespace else CONTAINER)
    return {
        "net": NODE if intent.host_network else POD,
        "uts": NODE if intent.host_network else POD,
        "ipc": NODE if intent.host_ipc else POD,
        "pid": pid,
    }


def expected_sharing(pod: Pod) -> tuple[dict[str, str], str]:
    """Type -> POD/CONTAINER/NODE, and where that expectation came from."""
    if pod.intent is not None:
        return from_intent(pod.intent), pod.intent.source
    requested = {t: mode for t, mode in pod.requested.items() if mode in (POD, CONTAINER, NODE)}
    if requested:
        return requested, pod.source if pod.source == "cri" else pod.runtime
    return {}, ""


def actual_mode(verdict: NamespaceVerdict) -> str:
    """A verdict in CRI's words."""
    if verdict.verdict is Verdict.HOST:
        return NODE
    if verdict.verdict is Verdict.POD:
        return POD
    if verdict.verdict is Verdict.PRIVATE:
        return CONTAINER
    return verdict.verdict.value.upper()


def container_mismatches(
    container: Container, expected: dict[str, str], source: str
) -> list[Mismatch]:
    found = []
    for ns_type, mode in expected.items():
        verdict = container.namespaces.get(ns_type)
        if verdict is None or verdict.verdict is Verdict.UNKNOWN:
            continue  # nothing can be said about what cannot be read
        actual = actual_mode(verdict)
        if actual != mode:
            found.append(Mismatch(container.name, ns_type, mode, actual, source, verdict.inode))
    return found


def pod_mismatches(pod: Pod) -> list[Mismatch]:
    """Every (container, type) where the kernel differs from what the spec implies."""
    expected, source = expected_sharing(pod)
    if not expected:
        return []
    return [m for c in pod.containers for m in container_mismatches(c, expected, source)]
