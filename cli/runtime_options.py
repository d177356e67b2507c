"""The options that say where the node's container runtimes are: CRI sockets, state dirs.

Their help names the runtimes' default paths as text: the registry that defines them
(agent/runtimes/registry.py, reached through agent.scanner) imports every runtime client, too
much for `nsinspect --help` to load; tests/unit/test_formats.py checks that the two agree.
"""

from __future__ import annotations

import click

DEFAULT_CRI_SOCKETS_TEXT = "/run/containerd/containerd.sock, /run/crio/crio.sock"
STATE_DIRS_TEXT = {
    "containerd": "containerd's state directory (default /run/containerd)",
    "cri-o": "containers/storage's run root (default /run/containers/storage)",
    "docker": "docker's data root (default /var/lib/docker)",
}

cri_socket_help = (
    "A CRI socket (node path, under --host-root); repeatable. When it answers, the CRI decides "
    "pod names, uids, sandbox pids and requested sharing. Given, exactly these sockets are asked; "
    "without it, the sockets the runtimes' own processes name (containerd's shims, crio, "
    "cri-dockerd) and the published layouts present on the node (k3s, RKE2, microk8s, k0s; "
    f"{DEFAULT_CRI_SOCKETS_TEXT}). `pods -o wide` says where each was found. "
    "Env: NSINSPECT_CRI_SOCKET."
)
runtime_state_help = (
    "A runtime's state directory (node path), exactly this one; repeatable. Without it, found "
    "from the runtime's processes and the published layouts. "
    + "; ".join(f"{name}: {what}" for name, what in STATE_DIRS_TEXT.items())
    + ". Env: NSINSPECT_RUNTIME_STATE."
)


def parse_state_dirs(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...] | None
) -> dict[str, str]:
    """`--runtime-state RUNTIME=DIR`s as {runtime: dir}; a usage error for anything else."""
    state_dirs: dict[str, str] = {}
    if not values:
        return state_dirs
    from ..agent.scanner import STATE_DIRS  # the scan is near: the flag is for it

    for value in values:
        runtime, sep, directory = value.partition("=")
        if not sep or runtime not in STATE_DIRS or not directory:
            raise click.BadParameter(
                f"{value!r} is not RUNTIME=DIR with RUNTIME one of {', '.join(STATE_DIRS)}",
                ctx=ctx,
                param=param,
            )
        state_dirs[runtime] = directory
    return state_dirs
