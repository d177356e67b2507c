"""The findings catalogue, computed from pods and orphan namespaces (a pure function).

| code                         | severity | when                                                   |
| ContainerNotInPodNetwork     | critical | an app container's net ns differs from its sandbox's   |
| ContainerNotInPodIPC / UTS   | warning  | likewise for ipc / uts                                 |
| SandboxMissing               | critical | app containers run but the pause process is gone       |
| HostNamespaceShared          | warning  | a container is in the node's net/ipc/pid/uts namespace |
| IntentMismatch               | warning  | sharing differs from the pod spec or the CRI request   |
| CrossPodNamespace            | warning  | a container is in another pod's namespace              |
| OrphanNamespace              | info     | a pinned namespace that no process and no pod uses     |

A container outside its sandbox's network is reported once, as ContainerNotInPod*, not again as
IntentMismatch; a pod that asked for a namespace of the container's own (podman `--share net`,
CRI `CONTAINER`) is not expected to share it.

Every finding is concluded only from data that was read: an unknown verdict (an unreadable
link, or the node's namespace of that type unreadable) concludes nothing; a sandbox is called
missing only when nothing that could hide it went unread (`Unread.sandbox_hidden`), and an orphan
only as `find_orphans` allows. What is left unconcluded is said as a FINDINGS scan error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from msgspec.structs import replace

from ..model import (
    HOST_SPEC_FIELDS,
    Finding,
    NamespaceMode,
    PinnedNamespace,
    Pod,
    Runtime,
    SandboxProcess,
    ScanError,
    ScanStage,
    Severity,
    Verdict,
)
from .expectations import expected_sharing
from .unread import NOTHING_UNREAD, Unread

NOT_IN_POD = {
    "net": ("ContainerNotInPodNetwork", Severity.CRITICAL, "network"),
    "ipc": ("ContainerNotInPodIPC", Severity.WARNING, "IPC"),
    "uts": ("ContainerNotInPodUTS", Severity.WARNING, "UTS"),
}
# The order HostNamespaceShared findings of one pod are listed in.
HOST_SHARED_ORDER = ("net", "ipc", "pid", "uts")


def compute_findings(
    pods: Sequence[Pod], orphans: Sequence[PinnedNamespace], unread: Unread = NOTHING_UNREAD
) -> tuple[Finding, ...]:
    found: list[Finding] = [f for pod in pods for f in pod_findings(pod, unread)]
    found.extend(_orphans(orphans))
    return tuple(sorted(found, key=_order))


def _order(finding: Finding) -> tuple[int, str, str, str]:
    pod = finding.pod.key if finding.pod is not None else ""
    return (finding.severity.rank, pod, finding.code, finding.container)


def pod_findings(pod: Pod, unread: Unread = NOTHING_UNREAD) -> list[Finding]:
    """Every finding about one pod, in the order of the catalogue."""
    found = [
        *([] if unread.sandbox_hidden else _sandbox_missing(pod)),
        *_not_in_pod(pod),
        *_host_shared(pod),
        *_cross_pod(pod),
        *_intent_mismatch(pod),
    ]
    if pod.runtime is Runtime.NONE:
        return [replace(finding, runtime_less=True) for finding in found]
    return found


def _sandbox_missing(pod: Pod) -> Iterable[Finding]:
    if pod.sandbox.process is SandboxProcess.MISSING and pod.containers:
        yield Finding(
            code="SandboxMissing",
            severity=Severity.CRITICAL,
            message=(
                f"pod {pod.key}: the pause container {pod.sandbox.id[:12]} has no process, but "
                f"{len(pod.containers)} app containers still run"
            ),
            pod=pod.ref,
            evidence={"sandbox_id": pod.sandbox.id, "containers": [c.name for c in pod.containers]},
        )


def missing_unchecked(pods: Sequence[Pod], unread: Unread) -> tuple[ScanError, ...]:
    """A FINDINGS error for each pod that would be SandboxMissing, had nothing gone unread."""
    hidden = unread.sandbox_hidden
    if not hidden:
        return ()
    return tuple(
        ScanError(
            ScanStage.FINDINGS,
            f"not checked for SandboxMissing: pod {pod.key}'s sandbox process was not found, "
            f"but could be among what was not read ({hidden})",
        )
        for pod in pods
        if next(iter(_sandbox_missing(pod)), None) is not None
    )


def _not_in_pod(pod: Pod) -> Iterable[Finding]:
    if pod.sandbox.process is SandboxProcess.MISSING:
        return  # SandboxMissing says it; there is no sandbox namespace to compare with
    expected, _ = expected_sharing(pod)
    for container in pod.containers:
        for ns_type, (code, severity, word) in NOT_IN_POD.items():
            verdict = container.namespaces.get(ns_type)
            sandbox_inode = pod.sandbox.namespaces.get(ns_type)
            if verdict is None or verdict.inode is None or sandbox_inode is None:
                continue
            if verdict.shared_with_sandbox or expected.get(ns_type) == NamespaceMode.CONTAINER:
                continue
            yield Finding(
                code=code,
                severity=severity,
                message=(
                    f"{container.name} in pod {pod.key} is not in its pod's {word} namespace: "
                    f"{ns_type}:[{verdict.inode}] instead of the sandbox's "
                    f"{ns_type}:[{sandbox_inode}]"
                ),
                pod=pod.ref,
                container=container.name,
                ns_type=ns_type,
                evidence={
                    "container_inode": verdict.inode,
                    "sandbox_inode": sandbox_inode,
                    "container_pid": container.pid,
                    "sandbox_pid": pod.sandbox.pid,
                },
            )


def _host_shared(pod: Pod) -> Iterable[Finding]:
    host_network = bool(pod.host_use.get("net"))
    for ns_type in HOST_SHARED_ORDER:
        names = pod.host_use.get(ns_type, ())
        if not names or (ns_type == "uts" and host_network):
            continue  # a hostNetwork pod has the node's hostname too; one finding says both
        first = next(c for c in pod.containers if c.name == names[0])
        yield Finding(
            code="HostNamespaceShared",
            severity=Severity.WARNING,
            message=(
                f"pod {pod.key} uses the node's {ns_type} namespace ({HOST_SPEC_FIELDS[ns_type]}): "
                f"{', '.join(names)}"
            ),
            pod=pod.ref,
            ns_type=ns_type,
            evidence={"containers": list(names), "inode": first.namespaces[ns_type].inode},
        )


def _cross_pod(pod: Pod) -> Iterable[Finding]:
    for container in pod.containers:
        for ns_type, verdict in container.namespaces.items():
            if verdict.verdict is Verdict.OTHER and verdict.other_pod is not None:
                other = verdict.other_pod.key
                yield Finding(
                    code="CrossPodNamespace",
                    severity=Severity.WARNING,
                    message=(
                        f"{container.name} in pod {pod.key} is in the {ns_type} namespace of "
                        f"pod {other}"
                    ),
                    pod=pod.ref,
                    container=container.name,
                    ns_type=ns_type,
                    evidence={"inode": verdict.inode, "other_pod": other},
                )


def _intent_mismatch(pod: Pod) -> Iterable[Finding]:
    for mismatch in pod.mismatches:
        if (
            mismatch.ns_type in NOT_IN_POD
            and mismatch.expected == NamespaceMode.POD
            and mismatch.actual == NamespaceMode.CONTAINER
        ):
            continue  # ContainerNotInPod* already says it
        if mismatch.actual == NamespaceMode.OTHER:
            continue  # CrossPodNamespace already says it
        yield Finding(
            code="IntentMismatch",
            severity=Severity.WARNING,
            message=(
                f"{mismatch.container} in pod {pod.key}: {mismatch.ns_type} asked for "
                f"{mismatch.expected}, got {mismatch.actual} (per {mismatch.expected_by})"
            ),
            pod=pod.ref,
            container=mismatch.container,
            ns_type=mismatch.ns_type,
            evidence={
                "expected": str(mismatch.expected),
                "actual": str(mismatch.actual),
                "source": mismatch.expected_by,
                "inode": mismatch.inode,
            },
        )


def _orphans(orphans: Sequence[PinnedNamespace]) -> Iterable[Finding]:
    for pin in orphans:
        yield Finding(
            code="OrphanNamespace",
            severity=Severity.INFO,
            message=(
                f"{pin.ns_type}:[{pin.inode}] is pinned at {pin.path} but no process is in it "
                "and no pod uses it (a leaked namespace?)"
            ),
            ns_type=pin.ns_type,
            evidence={"inode": pin.inode, "path": pin.path},
        )
