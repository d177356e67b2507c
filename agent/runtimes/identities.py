"""Who each container is: the resolvers in order, then cgroups alone.

The resolvers are asked in their order (the CRI first, then each runtime's files on disk) about
containers not identified yet; the first that knows one decides, and its answer is kept while the
container lives, except that an answer from the runtime's files gives way to the CRI's once the CRI
knows the container. Kubelet-layout containers that none knows are described from their cgroups
(`kubelet_cgroup`), anew each scan so that a runtime that comes back can take over. Finally a pod
whose sandbox has no process (CRI-O without an infra container) has its sandbox looked up by id,
so the pod keeps its runtime's description of the pinned namespaces and the requested sharing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from ..model import (
    ContainerIdentity,
    Evidence,
    Process,
    Role,
    ScanError,
    container_init_pid,
)
from .cgroup_pods import cgroup_identities
from .cgroups import CgroupMatch
from .cri import CriResolver
from .resolver import RuntimeResolver

NOT_PRESENT = "not present"


class IdentityResolution:
    def __init__(self) -> None:
        self._identities: dict[str, ContainerIdentity] = {}

    def identify(
        self,
        resolvers: Sequence[RuntimeResolver],
        memberships: Mapping[int, CgroupMatch],
        processes: Mapping[int, Process],
        errors: list[ScanError],
    ) -> tuple[dict[str, ContainerIdentity], list[str | None]]:
        """Container id -> identity, and for each resolver None when it could be read this scan,
        else why not."""
        live = {match.container_id: match for match in memberships.values()}
        for gone in self._identities.keys() - live.keys():
            del self._identities[gone]
        reasons = [_refresh(resolver, errors) for resolver in resolvers]
        up = [r for r, reason in zip(resolvers, reasons, strict=True) if reason is None]
        answering_cri = [r for r in up if isinstance(r, CriResolver)]
        for container_id, match in live.items():
            known = self._identities.get(container_id)
            if known is None:
                identity = self._ask(up, match, errors)
            elif known.evidence is not Evidence.CRI and answering_cri:
                # A sandbox's pause runs, and its bundle is on disk, before RunPodSandbox
                # returns and the CRI lists it: an identity read from the bundle then is kept
                # only until the CRI knows the container (a lookup in its index, no I/O).
                identity = self._ask(answering_cri, match, errors)
            else:
                continue
            if identity is not None:
                self._identities[container_id] = identity

        identities = dict(self._identities)
        unknown = {cid: m for cid, m in live.items() if cid not in identities}
        comms = _init_comms(unknown, memberships, processes)
        identities.update(cgroup_identities(unknown, comms, identities.values()))
        identities.update(self._processless_sandboxes(identities, up, errors))
        return identities, reasons

    @staticmethod
    def _ask(
        resolvers: Sequence[RuntimeResolver], match: CgroupMatch, errors: list[ScanError]
    ) -> ContainerIdentity | None:
        for resolver in resolvers:
            identity = resolver.identify(match, errors)
            if identity is not None:
                return identity
        return None

    def _processless_sandboxes(
        self,
        identities: Mapping[str, ContainerIdentity],
        resolvers: Sequence[RuntimeResolver],
        errors: list[ScanError],
    ) -> dict[str, ContainerIdentity]:
        """The sandboxes that app containers name but that no process runs in."""
        found: dict[str, ContainerIdentity] = {}
        for app in identities.values():
            sandbox_id = app.sandbox_id
            if app.role is not Role.APP or not sandbox_id or sandbox_id in identities:
                continue
            if sandbox_id in found:
                continue
            match = CgroupMatch(sandbox_id, runtime_hint=app.runtime, pod_uid=app.pod_uid)
            sandbox = self._ask(resolvers, match, errors)
            if sandbox is not None and sandbox.role is Role.SANDBOX:
                found[sandbox_id] = sandbox
        return found


def _refresh(resolver: RuntimeResolver, errors: list[ScanError]) -> str | None:
    """None when the resolver's runtime could be read this scan, else why not."""
    if not resolver.available():
        return NOT_PRESENT
    before = len(errors)
    if resolver.refresh(errors):
        return None
    return errors[-1].reason if len(errors) > before else "unreadable"


def _init_comms(
    matches: Mapping[str, CgroupMatch],
    memberships: Mapping[int, CgroupMatch],
    processes: Mapping[int, Process],
) -> dict[str, str]:
    """Container id -> the comm of its init process, for the containers in `matches`."""
    pids: dict[str, list[int]] = defaultdict(list)
    for pid, match in memberships.items():
        if match.container_id in matches and pid in processes:
            pids[match.container_id].append(pid)
    comms = {}
    for container_id, members in pids.items():
        init = container_init_pid(members, processes)
        if init is not None:
            comms[container_id] = processes[init].comm
    return comms
