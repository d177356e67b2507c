"""What pairing is given and what it concludes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..model import (
    ContainerIdentity,
    HostReference,
    PinnedNamespace,
    Pod,
    PodIntent,
    Process,
    ScanError,
)
from .unread import NOTHING_UNREAD, Unread


@dataclass(frozen=True, slots=True)
class PairingInput:
    processes: Mapping[int, Process]
    memberships: Mapping[int, str]  # pid -> id of the runtime container it runs in
    identities: Mapping[str, ContainerIdentity]  # container id -> identity
    host: HostReference
    pins: Sequence[PinnedNamespace] = ()
    intents: Mapping[str, PodIntent] = field(default_factory=dict)  # pod uid -> intent
    unread: Unread = NOTHING_UNREAD  # what the scan could not read (unread_from its errors)


@dataclass(frozen=True, slots=True)
class PairingResult:
    pods: tuple[Pod, ...]
    orphans: tuple[PinnedNamespace, ...]
    # Findings not concluded because what they rest on could not be read: FINDINGS errors.
    unconcluded: tuple[ScanError, ...] = ()
