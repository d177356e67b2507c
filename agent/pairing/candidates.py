"""Pods as their members were found, before any namespace is judged."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class ContainerProcesses:
    """An app container and its processes: what its verdicts will be judged from."""

    identity: ContainerIdentity
    pid: int | None  # its init process
    pids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PodCandidate:
    runtime: Runtime
    evidence: Evidence
    name: str
    namespace: str
    uid: str
    sandbox: Sandbox
    members: tuple[ContainerProcesses, ...]  # app containers only
    intent: PodIntent | None = None
    requested: Mapping[str, NamespaceMode] = field(default_factory=dict)
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
