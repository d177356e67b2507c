"""Kubernetes pods known from their cgroups alone, when no runtime describes them.

A DaemonSet may not see a runtime's state or socket (not mounted, an unknown runtime), but every
container kubelet starts sits in its pod's cgroup, `.../pod<uid>/<container>`. That is enough to
say which processes form one pod and, by the pause-like command of one container, which of them
is the sandbox. Names are not known: the pod is called `pod<uid>` (its cgroup's name) and each
container by its short id. The evidence is recorded as `cgroup` so nobody mistakes it for more.

A container whose pod a runtime does describe (its own record unreadable, or created since the
runtime was read) joins that pod rather than making a second pod of the same uid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from msgspec.structs import replace

from ..model import PAUSE_COMMS, ContainerIdentity, Evidence, Role, Runtime
from .cgroups import CgroupMatch


def cgroup_identities(
    matches: Mapping[str, CgroupMatch],
    init_comms: Mapping[str, str],
    known: Iterable[ContainerIdentity] = (),
) -> dict[str, ContainerIdentity]:
    """Identities for kubelet-layout containers that no resolver knew.

    `matches`: container id -> its cgroup match; `init_comms`: container id -> the comm of its
    init process; `known`: the identities the resolvers gave. Containers outside a kubelet pod
    cgroup get no identity.
    """
    described = {k.pod_uid: k for k in known if k.pod_uid}
    pods: dict[str, list[CgroupMatch]] = defaultdict(list)
    for match in matches.values():
        if match.kubelet_layout and match.pod_uid:
            pods[match.pod_uid].append(match)

    identities: dict[str, ContainerIdentity] = {}
    for uid, members in pods.items():
        if uid in described:
            identities.update(_joining(members, described[uid]))
            continue
        pause_like = sorted(
            m.container_id for m in members if init_comms.get(m.container_id) in PAUSE_COMMS
        )
        # More than one pause-like container (a restarted sandbox not yet reaped) is rare; the
        # choice is then only stable, not certain.
        sandbox_id = pause_like[0] if pause_like else ""
        for match in members:
            is_sandbox = match.container_id == sandbox_id
            identities[match.container_id] = ContainerIdentity(
                runtime=match.runtime_hint or Runtime.UNKNOWN,
                id=match.container_id,
                role=Role.SANDBOX if is_sandbox else Role.APP,
                sandbox_id=sandbox_id,
                name="" if is_sandbox else match.container_id[:12],
                pod_name=f"pod{uid}",
                pod_uid=uid,
                evidence=Evidence.CGROUP,
            )
    return identities


def _joining(members: list[CgroupMatch], pod: ContainerIdentity) -> dict[str, ContainerIdentity]:
    """App containers of a pod that a runtime describes, known to belong to it by cgroup only."""
    return {
        match.container_id: replace(
            pod,
            id=match.container_id,
            # The sandbox the apps name, its own record unreadable, is still the sandbox.
            role=Role.SANDBOX if match.container_id == pod.sandbox_id else Role.APP,
            name="" if match.container_id == pod.sandbox_id else match.container_id[:12],
            evidence=Evidence.CGROUP,
            init_pid=None,
            namespace_paths={},
            requested={},
        )
        for match in members
    }
