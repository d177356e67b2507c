"""The one interface every runtime client answers to, the CRI included."""

from __future__ import annotations

import os
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


def under_root(host_root: str, path: str) -> str:
    """`path` (absolute on the node) as seen from a host root such as `/host`."""
    return os.path.join(host_root, path.lstrip("/"))
