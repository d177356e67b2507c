"""Every runtime nsinspect knows, and where each keeps its state by default."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .containerd import DEFAULT_STATE, ContainerdResolver
from .cri import CriResolver
from .cridockerd import DEFAULT_DATA_ROOT, CriDockerdResolver
from .crio import DEFAULT_GRAPH_ROOT, DEFAULT_RUN_ROOT, CrioResolver
from .podman import PodmanResolver
from .resolver import RuntimeResolver, under_root

# The node paths kubelet's runtimes listen on by default.
DEFAULT_CRI_SOCKETS = ("/run/containerd/containerd.sock", "/run/crio/crio.sock")
# The runtime names `state_dirs` takes, and what each directory is.
STATE_DIRS = {
    "containerd": f"containerd's state directory (default {DEFAULT_STATE})",
    "cri-o": f"containers/storage's run root (default {DEFAULT_RUN_ROOT})",
    "docker": f"docker's data root (default {DEFAULT_DATA_ROOT})",
}


def default_resolvers(
    host_root: str = "/",
    state_dirs: Mapping[str, str] | None = None,
    cri_sockets: Sequence[str] | None = None,
) -> list[RuntimeResolver]:
    """Every runtime nsinspect knows, reading its state under `host_root`, CRI first.

    `state_dirs` overrides a runtime's state directory (keys as in `STATE_DIRS`; node paths).
    `cri_sockets` (node paths) replaces the default sockets; sockets asked for explicitly are
    reported when missing, the default ones only when they exist but do not answer.
    """
    dirs = state_dirs or {}
    sockets = DEFAULT_CRI_SOCKETS if cri_sockets is None else tuple(cri_sockets)
    cri: list[RuntimeResolver] = [
        CriResolver(under_root(host_root, socket), socket, required=cri_sockets is not None)
        for socket in sockets
    ]
    return [
        *cri,
        ContainerdResolver(host_root, dirs.get("containerd", DEFAULT_STATE)),
        CrioResolver(host_root, dirs.get("cri-o", DEFAULT_RUN_ROOT), DEFAULT_GRAPH_ROOT),
        CriDockerdResolver(host_root, dirs.get("docker", DEFAULT_DATA_ROOT)),
        PodmanResolver(host_root),
    ]
