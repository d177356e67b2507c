"""Every runtime nsinspect knows, at the places found this scan, each with its resolver.

The places come from four sources, the flags deciding over the rest: `--cri-socket` given means
exactly those CRI sockets; `--runtime-state RUNTIME=DIR` exactly that runtime's state directory.
Everything not flagged is taken from the runtimes' own processes (locations.py) and from the
published layouts present on the node (layouts.py). The set is derived anew every scan; a
resolver lives as long as its place is still found, so the CRI session and the runtime's indexes
are kept across scans.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from msgspec.structs import replace

from ..model import FoundBy, LocationKind, Runtime, RuntimeLocation, RuntimeProcess
from ..model.bounded_read import read_capped
from .containerd import DEFAULT_STATE, ContainerdResolver
from .cri import CriResolver
from .cridockerd import DEFAULT_DATA_ROOT, CriDockerdResolver
from .crio import DEFAULT_GRAPH_ROOT, DEFAULT_RUN_ROOT, CrioResolver
from .layouts import CONTAINERD_SOCKET, CRIO_SOCKET, PUBLISHED_LAYOUTS
from .locations import locations_of
from .podman import PodmanResolver
from .resolver import RuntimeResolver, under_root

# The node paths kubelet's runtimes listen on by default (the CLI's help says so).
DEFAULT_CRI_SOCKETS = (CONTAINERD_SOCKET, CRIO_SOCKET)
# The runtime names `state_dirs` takes, and what each directory is.
STATE_DIRS = {
    "containerd": f"containerd's state directory (default {DEFAULT_STATE})",
    "cri-o": f"containers/storage's run root (default {DEFAULT_RUN_ROOT})",
    "docker": f"docker's data root (default {DEFAULT_DATA_ROOT})",
}
CONFIG_CAP = 1 << 20  # a runtime's TOML config: a few KiB
# CRI sockets first (the CRI decides when it answers), then each runtime's files.
RESOLVER_ORDER = (Runtime.CRI, Runtime.CONTAINERD, Runtime.CRIO, Runtime.DOCKER, Runtime.PODMAN)
FOUND_BY_ORDER = (FoundBy.FLAG, FoundBy.PROCESS, FoundBy.LAYOUT, FoundBy.DEFAULT)


@dataclass(frozen=True, slots=True)
class LocatedResolver:
    location: RuntimeLocation
    resolver: RuntimeResolver


class RuntimeRegistry:
    def __init__(
        self,
        host_root: str = "/",
        state_dirs: Mapping[str, str] | None = None,
        cri_sockets: Sequence[str] | None = None,
    ) -> None:
        """`state_dirs` (keys as in `STATE_DIRS`) and `cri_sockets`: the flags, node paths."""
        self.host_root = host_root
        self.flagged = [
            RuntimeLocation(Runtime.CRI, LocationKind.CRI_SOCKET, socket, FoundBy.FLAG)
            for socket in cri_sockets or ()
        ] + [
            RuntimeLocation(Runtime(runtime), LocationKind.STATE_DIR, path, FoundBy.FLAG)
            for runtime, path in (state_dirs or {}).items()
        ]
        self.sockets_flagged = cri_sockets is not None
        self.state_flagged = {Runtime(runtime) for runtime in state_dirs or {}}
        self._resolvers: dict[tuple[str, str, str], RuntimeResolver] = {}
        self._said: dict[RuntimeProcess, list[RuntimeLocation]] = {}

    def locate(self, processes: Sequence[RuntimeProcess]) -> list[LocatedResolver]:
        """The places of this scan with their resolvers, in the order they are asked."""
        said = {
            p: self._said[p] if p in self._said else locations_of(p, self.read_config)
            for p in processes
        }
        self._said = said
        candidates = [
            *self.flagged,
            *(location for found in said.values() for location in found),
            *(RuntimeLocation(e.runtime, e.kind, e.path, e.found_by) for e in PUBLISHED_LAYOUTS),
        ]
        chosen: dict[tuple[str, str, str], RuntimeLocation] = {}
        for location in sorted(candidates, key=lambda c: FOUND_BY_ORDER.index(c.found_by)):
            if location.found_by is not FoundBy.FLAG and self._overridden(location):
                continue
            chosen.setdefault(location.key, location)
        resolvers = {key: self._resolvers.get(key) or self._new(c) for key, c in chosen.items()}
        self._resolvers = resolvers
        located = [LocatedResolver(chosen[key], resolvers[key]) for key in chosen]
        return sorted(located, key=_asking_order)

    def _overridden(self, location: RuntimeLocation) -> bool:
        if location.kind is LocationKind.CRI_SOCKET:
            return self.sockets_flagged
        return location.runtime in self.state_flagged

    def _new(self, location: RuntimeLocation) -> RuntimeResolver:
        path, host_root = location.path, self.host_root
        if location.kind is LocationKind.CRI_SOCKET:
            required = location.found_by is FoundBy.FLAG
            return CriResolver(under_root(host_root, path), location.shown_path, required=required)
        if location.runtime is Runtime.CONTAINERD:
            return ContainerdResolver(host_root, path)
        if location.runtime is Runtime.CRIO:
            return CrioResolver(host_root, path, DEFAULT_GRAPH_ROOT)
        if location.runtime is Runtime.DOCKER:
            return CriDockerdResolver(host_root, path)
        return PodmanResolver(host_root, path)

    def read_config(self, path: str) -> Mapping[str, Any] | None:
        """A runtime's TOML config (a node path), or None when absent or unreadable."""
        try:
            text = read_capped(under_root(self.host_root, path), CONFIG_CAP)
            return tomllib.loads(text.decode())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None


def _asking_order(located: LocatedResolver) -> tuple[int, int]:
    location = located.location
    runtime = Runtime.CRI if location.kind is LocationKind.CRI_SOCKET else location.runtime
    return RESOLVER_ORDER.index(runtime), FOUND_BY_ORDER.index(location.found_by)


def with_status(location: RuntimeLocation, reason: str | None) -> RuntimeLocation:
    """The location as this scan left it: read (reason None), or not and why."""
    return replace(location, readable=reason is None, reason=reason or "")
