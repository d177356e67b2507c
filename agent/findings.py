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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nsinspect.agent.expectations import CONTAINER, POD, expected_sharing, pod_mismatches
from nsinspect.agent.model import (
    Container,
    Finding,
    PinnedNamespace,
    Pod,
    SandboxProcess,
    Verdict,
)

CRITICAL, WARNING, INFO = "critical", "warning", "info"
NOT_IN_POD = {
    "net": ("ContainerNotInPodNetwork", CRITICAL, "network"),
    "ipc": ("ContainerNotInPodIPC", WARNING, "IPC"),
    "uts": ("ContainerNotInPodUTS", WARNING, "UTS"),
}
HOST_FIELD = {"net": "hostNetwork", "ipc": "hostIPC", "pid": "hostPID", "uts": "hostNetwork"}
SEVERITY_ORDER = {CRITICAL: 0, WARNING: 1, INFO: 2}


def compute_findings(
    pods: Sequence[Pod], orphans: Sequence[PinnedNamespace]
) -> tuple[Finding, ...]:
    found: list[Finding] = []
    for pod in pods:
        found.extend(_sandbox_missing(pod))
        found.extend(_not_in_pod(pod))
        found.extend(_host_shared(pod))
        found.extend(_cross_pod(pod))
        found.extend(_intent_mismatch(pod))
    found.extend(_orphans(orphans))
    return tuple(
        sorted(found, key=lambda f: (SEVERITY_ORDER[f.severity], f.pod, f.code, f.container))
    )


def _sandbox_missing(pod: Pod) -> Iterable[Finding]:
    if pod.sandbox.process is SandboxProcess.MISSING and pod.containers:
        yield Finding(
            code="SandboxMissing",
            severity=CRITICAL,
            message=(
                f"pod {pod.key}: the pause container {pod.sandbox.id[:12]} has no process, but "
                f"{len(pod.containers)} app containers still run"
            ),
            pod=pod.key,
            evidence={"sandbox_id": pod.sandbox.id, "containers": [c.name for c in pod.containers]},
        )


def _not_in_pod(pod: Pod) -> Iterable[Finding]:
    if pod.sandbox.process is SandboxProcess.MISSING:
        return  # SandboxMissing says it; there is no sandbox namespace to compare with
    expected, _ = expected_sharing(pod)
    for container in pod.containers:
        for ns_type, (code, severity, word) in NOT_IN_POD.items():
            verdict = container.namespaces.get(ns_type)
            sandbox_inode = pod.sandbox.namespaces.get(ns_type)
            if verdict is None or verdict.verdict is Verdict.UNKNOWN or sandbox_inode is None:
                continue
            if verdict.shared_with_sandbox or expected.get(ns_type) == CONTAINER:
                continue
            yield Finding(
                code=code,
                severity=severity,
                message=(
                    f"{container.name} in pod {pod.key} is not in its pod's {word} namespace: "
                    f"{ns_type}:[{verdict.inode}] instead of the sandbox's "
                    f"{ns_type}:[{sandbox_inode}]"
                ),
                pod=pod.key,
                container=container.name,
                ns_type=ns_type,
                evidence={
                    "container_inode": verdict.inode,
                    "sandbox_inode": sandbox_inode,
                    "container_pid": container.pid,
                    "sandbox_pid": pod.sandbox.pid,
                },
            )


def _on_host(pod: Pod, ns_type: str) -> list[Container]:
    return [
        c
        for c in pod.containers
        if ns_type in c.namespaces and c.namespaces[ns_type].verdict is Verdict.HOST
    ]


def _host_shared(pod: Pod) -> Iterable[Finding]:
    host_network = bool(_on_host(pod, "net"))
    for ns_type in ("net", "ipc", "pid", "uts"):
        on_host = _on_host(pod, ns_type)
        if not on_host or (ns_type == "uts" and host_network):
            continue  # a hostNetwork pod has the node's hostname too; one finding says both
        names = [c.name for c in on_host]
        yield Finding(
            code="HostNamespaceShared",
            severity=WARNING,
            message=(
                f"pod {pod.key} uses the node's {ns_type} namespace ({HOST_FIELD[ns_type]}): "
                f"{', '.join(names)}"
            ),
            pod=pod.key,
            ns_type=ns_type,
            evidence={"containers": names, "inode": on_host[0].namespaces[ns_type].inode},
        )


def _cross_pod(pod: Pod) -> Iterable[Finding]:
    for container in pod.containers:
        for ns_type, verdict in container.namespaces.items():
            if verdict.verdict is Verdict.OTHER:
                yield Finding(
                    code="CrossPodNamespace",
                    severity=WARNING,
                    message=(
                        f"{container.name} in pod {pod.key} is in the {ns_type} namespace of "
                        f"pod {verdict.other_pod}"
                    ),
                    pod=pod.key,
                    container=container.name,
                    ns_type=ns_type,
                    evidence={"inode": verdict.inode, "other_pod": verdict.other_pod},
                )


def _intent_mismatch(pod: Pod) -> Iterable[Finding]:
    for mismatch in pod_mismatches(pod):
        if (
            mismatch.ns_type in NOT_IN_POD
            and mismatch.expected == POD
            and mismatch.actual == CONTAINER
        ):
            continue  # ContainerNotInPod* already says it
        if mismatch.actual == "OTHER":
            continue  # CrossPodNamespace already says it
        yield Finding(
            code="IntentMismatch",
            severity=WARNING,
            message=(
                f"{mismatch.container} in pod {pod.key}: {mismatch.ns_type} asked for "
                f"{mismatch.expected}, got {mismatch.actual} (per {mismatch.source})"
            ),
            pod=pod.key,
            container=mismatch.container,
            ns_type=mismatch.ns_type,
            evidence={
                "expected": mismatch.expected,
                "actual": mismatch.actual,
                "source": mismatch.source,
                "inode": mismatch.inode,
            },
        )


def _orphans(orphans: Sequence[PinnedNamespace]) -> Iterable[Finding]:
    for pin in orphans:
        yield Finding(
            code="OrphanNamespace",
            severity=INFO,
            message=(
                f"{pin.ns_type}:[{pin.inode}] is pinned at {pin.path} but no process is in it "
                "and no pod uses it (a leaked namespace?)"
            ),
            ns_type=pin.ns_type,
            evidence={"inode": pin.inode, "path": pin.path},
        )
