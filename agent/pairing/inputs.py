"""What pairing is given and what it concludes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

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


class PairingInput(msgspec.Struct, frozen=True):
    processes: Mapping[int, Process]
    memberships: Mapping[int, str]  # pid -> id of the runtime container it runs in
    identities: Mapping[str, ContainerIdentity]  # container id -> identity
    host: HostReference
    pins: Sequence[PinnedNamespace] = ()
    intents: Mapping[str, PodIntent] = msgspec.field(default_factory=dict)  # pod uid -> intent
    unread: Unread = NOTHING_UNREAD  # what the scan could not read (unread_from its errors)


class PairingResult(msgspec.Struct, frozen=True):
    pods: tuple[Pod, ...]
    orphans: tuple[PinnedNamespace, ...]
    # Findings not concluded because what they rest on could not be read: FINDINGS errors.
    unconcluded: tuple[ScanError, ...] = ()
