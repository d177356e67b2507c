"""Pods as the runtimes describe them: each sandbox with the app containers that name it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from ..model import (
    ContainerIdentity,
    NamespaceMode,
    PinnedNamespace,
    Process,
    Role,
    Sandbox,
    SandboxProcess,
    container_init_pid,
)
from .candidates import ContainerProcesses, PodCandidate
from .inputs import PairingInput


def pids_by_container(given: PairingInput) -> dict[str, list[int]]:
    """Container id -> its processes, for the containers a runtime identified."""
    found: dict[str, list[int]] = defaultdict(list)
    for pid, container_id in given.memberships.items():
        if container_id in given.identities and pid in given.processes:
            found[container_id].append(pid)
    return found


def runtime_pods(given: PairingInput, pids: Mapping[str, list[int]]) -> list[PodCandidate]:
    return [
        _runtime_pod(members, pids, given)
        for members in _group_by_sandbox(given.identities, pids).values()
    ]


def unclaimed_processes(
    given: PairingInput, pids: Mapping[str, list[int]], pods: Sequence[PodCandidate]
) -> dict[int, Process]:
    """The processes no runtime pod holds, outside every runtime pod's network namespace."""
    claimed = {pid for container_pids in pids.values() for pid in container_pids}
    taken_nets = {pod.sandbox.namespaces.get("net") for pod in pods if pod.sandbox.namespaces}
    return {
        pid: process
        for pid, process in given.processes.items()
        if pid not in claimed and process.namespaces.get("net") not in taken_nets
    }


def _group_by_sandbox(
    identities: Mapping[str, ContainerIdentity], pids: Mapping[str, list[int]]
) -> dict[tuple[str, str], list[ContainerIdentity]]:
    groups: dict[tuple[str, str], list[ContainerIdentity]] = defaultdict(list)
    for container_id in pids:
        identity = identities[container_id]
        # Without a known sandbox (a pod found from cgroups alone with no pause-like
        # container), the pod uid still keeps pods apart.
        pod_key = identity.sandbox_id or f"uid:{identity.pod_uid}"
        groups[(identity.runtime, pod_key)].append(identity)
    return groups


def _runtime_pod(
    members: list[ContainerIdentity], pids: Mapping[str, list[int]], given: PairingInput
) -> PodCandidate:
    sandbox_identity = next((m for m in members if m.role is Role.SANDBOX), None)
    apps = sorted((m for m in members if m.role is Role.APP), key=lambda m: (m.name, m.id))
    described_by = sandbox_identity or apps[0]

    if sandbox_identity is not None:
        sandbox_pid = container_init_pid(
            pids[sandbox_identity.id], given.processes, sandbox_identity.init_pid
        )
        assert sandbox_pid is not None  # the group exists because the container has processes
        holder = given.processes[sandbox_pid]
        sandbox = Sandbox(
            id=sandbox_identity.id,
            pid=sandbox_pid,
            process=SandboxProcess.PRESENT,
            namespaces=dict(holder.namespaces),
            comm=holder.comm,
            start_time=holder.start_time,
        )
    else:
        # A sandbox its runtime still describes although no process runs in it (CRI-O's
        # pods without an infra container): its spec names the pinned namespaces.
        recorded = given.identities.get(described_by.sandbox_id)
        if recorded is not None and recorded.role is Role.SANDBOX:
            sandbox_identity = recorded
        described = [sandbox_identity, *apps] if sandbox_identity else apps
        sandbox = _sandbox_without_process(described_by.sandbox_id, described, given.pins)

    return PodCandidate(
        runtime=described_by.runtime,
        evidence=described_by.evidence,
        name=described_by.pod_name,
        namespace=described_by.pod_namespace,
        uid=described_by.pod_uid,
        sandbox=sandbox,
        members=tuple(
            ContainerProcesses(
                identity=app,
                pid=container_init_pid(pids[app.id], given.processes, app.init_pid),
                pids=tuple(sorted(pids[app.id])),
            )
            for app in apps
        ),
        intent=given.intents.get(described_by.pod_uid),
        requested=_pod_requested(sandbox_identity, apps),
        labels=(sandbox_identity or described_by).labels,
    )


def _pod_requested(
    sandbox: ContainerIdentity | None, apps: Sequence[ContainerIdentity]
) -> dict[str, NamespaceMode]:
    """What the pod asked for: its sandbox's options, completed by what all its app
    containers agree on (a sandbox's spec cannot tell a shared pid namespace from private)."""
    requested = dict(sandbox.requested) if sandbox else {}
    for ns_type in sorted({t for app in apps for t in app.requested} - set(requested)):
        modes = {app.requested.get(ns_type) for app in apps}
        agreed = modes.pop() if len(modes) == 1 else None
        if agreed is not None:
            requested[ns_type] = agreed
    return requested


def canonical_path(path: str) -> str:
    """A pin path as the mount table shows it: `/var/run` is a symlink to `/run` on every
    modern distribution, so CRI-O's `/var/run/netns/<id>` in a spec is `/run/netns/<id>` there."""
    return "/run/" + path[len("/var/run/") :] if path.startswith("/var/run/") else path


def _sandbox_without_process(
    sandbox_id: str, described: Sequence[ContainerIdentity], pins: Sequence[PinnedNamespace]
) -> Sandbox:
    """A sandbox whose process is gone: pinned if bind mounts still hold what the apps joined.

    `described` are the sandbox's own identity (when its runtime still describes it) and its
    app containers; the first path found for a type wins.
    """
    pin_by_path = {pin.path: pin for pin in pins}
    namespaces: dict[str, int | None] = {}
    pinned_paths: dict[str, str] = {}
    for identity in described:
        for ns_type, path in identity.namespace_paths.items():
            if ns_type in namespaces:
                continue
            pin = pin_by_path.get(canonical_path(path))
            if pin is not None and pin.ns_type == ns_type:
                namespaces[ns_type] = pin.inode
                pinned_paths[ns_type] = pin.path
    return Sandbox(
        id=sandbox_id,
        pid=None,
        process=SandboxProcess.PINNED if namespaces else SandboxProcess.MISSING,
        namespaces=namespaces,
        pins=pinned_paths,
    )
