"""The one interface every runtime client answers to, the CRI included."""

from __future__ import annotations

import os
import re
from typing import Protocol

from ..model import ContainerIdentity, ScanError
from .cgroups import CgroupMatch


class RuntimeResolver(Protocol):
    """Turns a container id found in a cgroup path into the container's identity."""

    name: str

    def available(self) -> bool:
        """Whether this runtime's state is on this node at all."""
        ...

    def refresh(self, errors: list[ScanError]) -> bool:
        """Called once per scan before `identify`: re-read indexes that may have changed.

        False when the runtime could not be read this time (recorded in `errors`).
        """
        ...

    def identify(self, match: CgroupMatch, errors: list[ScanError]) -> ContainerIdentity | None:
        """The identity of `match.container_id`, or None when this runtime does not know it."""
        ...


_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


def is_container_id(text: str) -> bool:
    """64 hex digits, as every runtime here names its containers. Only such an id becomes part of
    a path in a runtime's state directory: an id taken from an annotation or a label may say
    `../..` or `*`."""
    return _CONTAINER_ID.fullmatch(text) is not None


def under_root(host_root: str, path: str) -> str:
    """`path` (absolute on the node) as seen from a host root such as `/host`."""
    return os.path.join(host_root, path.lstrip("/"))
