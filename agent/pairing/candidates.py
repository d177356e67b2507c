"""Pods as their members were found, before any namespace is judged."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from ..model import (
    ContainerIdentity,
    Evidence,
    NameSource,
    NamespaceGrouping,
    NamespaceMode,
    PodIdentityKey,
    PodIntent,
    PodRef,
    Runtime,
    Sandbox,
)


class ContainerProcesses(msgspec.Struct, frozen=True):
    """An app container and its processes: what its verdicts will be judged from."""

    identity: ContainerIdentity
    pid: int | None  # its init process
    pids: tuple[int, ...]


class PodCandidate(msgspec.Struct, frozen=True):
    runtime: Runtime
    evidence: Evidence
    name: str
    namespace: str
    uid: str
    sandbox: Sandbox
    members: tuple[ContainerProcesses, ...]  # app containers only
    intent: PodIntent | None = None
    requested: Mapping[str, NamespaceMode] = msgspec.field(default_factory=dict)
    names_from: NameSource = NameSource.RUNTIME  # where `namespace` and `name` came from
    grouping: NamespaceGrouping | None = None  # for a pod found by its namespaces alone
    labels: Mapping[str, str] | None = None  # as its runtime holds them

    @property
    def ref(self) -> PodRef:
        return PodRef(self.namespace, self.name)

    @property
    def identity_key(self) -> PodIdentityKey:
        """The key the judged pod will have (`Pod.identity_key`)."""
        return (self.runtime, self.namespace, self.name, self.uid)
