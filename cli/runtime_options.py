"""The options that say where the node's container runtimes are: CRI sockets, state dirs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..agent.scanner import DEFAULT_CRI_SOCKETS, STATE_DIRS

F = TypeVar("F", bound=Callable[..., Any])


def runtime_options(func: F) -> F:
    """`--cri-socket PATH` (repeatable) and `--runtime-state RUNTIME=DIR` (repeatable)."""
    func = click.option(
        "--cri-socket",
        "cri_sockets",
        multiple=True,
        envvar="NSINSPECT_CRI_SOCKET",
        metavar="PATH",
        help="A CRI socket (node path, under --host-root); repeatable. When it answers, the "
        "CRI decides pod names, uids, sandbox pids and requested sharing. Given, exactly these "
        "sockets are asked; without it, the sockets the runtimes' own processes name (containerd's "
        "shims, crio, cri-dockerd) and the published layouts present on the node (k3s, RKE2, "
        f"microk8s, k0s; {', '.join(DEFAULT_CRI_SOCKETS)}). `pods -o wide` says where each was "
        "found. Env: NSINSPECT_CRI_SOCKET.",
    )(func)
    return click.option(
        "--runtime-state",
        "runtime_state",
        multiple=True,
        envvar="NSINSPECT_RUNTIME_STATE",
        metavar="RUNTIME=DIR",
        callback=_parse_state_dirs,
        help="A runtime's state directory (node path), exactly this one; repeatable. Without it, "
        "found from the runtime's processes and the published layouts. "
        + "; ".join(f"{name}: {what}" for name, what in STATE_DIRS.items())
        + ". Env: NSINSPECT_RUNTIME_STATE.",
    )(func)


def _parse_state_dirs(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    state_dirs: dict[str, str] = {}
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
