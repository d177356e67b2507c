"""`nsinspect` and `kubectl nsinspect`: what a pod's containers share, and with whom.

The command tree is built from click and the standard library alone, so `--help` and `--version`
start fast: each command imports the scanner, the report model or the API client when it runs
(cli/views.py), and `agent` and `completion` are loaded only when called (LAZY_COMMANDS).
"""

from __future__ import annotations

import importlib
import os
import re
from typing import Any

import click

from ..agent import __version__
from .doctor import doctor
from .formats import LIST_FORMATS, POD_FORMATS, REPORT_FORMATS
from .options import GLOBAL_EPILOG, command_options, global_options, group_options
from .selection import list_options, watch_option

NS_ARGUMENT = re.compile(r"^(?:ns/)?(?P<type>[a-z_]+):\[?(?P<inode>\d+)\]?$")
# The namespace types `ns` takes (agent/model/vocabulary.py's ALL_NS_TYPES, which
# tests/unit/test_formats.py holds this to: the vocabulary is not imported for start-up's sake).
NS_ARGUMENT_TYPES = (
    "net", "ipc", "uts", "pid", "mnt", "user", "cgroup", "time",
    "pid_for_children", "time_for_children",
)  # fmt: skip
# name -> (module, attribute, the one line `nsinspect --help` shows without importing it)
LAZY_COMMANDS = {
    "agent": (
        "nsinspect.cli.agent_command",
        "agent",
        "Run the node agent: scan on an interval; serve /metrics, the probes and the JSON API.",
    ),
    "completion": (
        "nsinspect.cli.completion",
        "completion",
        "Print the shell completion script: bash, zsh or fish.",
    ),
}


def colour_wanted() -> bool | None:
    """False when NO_COLOR (any non-empty value) or TERM=dumb says so; else None: click colours
    on a terminal only."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return None


class CommandGroup(click.Group):
    """Loads `agent` and `completion` on first use, and turns colour off for NO_COLOR."""

    def _lazy(self) -> dict[str, tuple[str, str, str]]:
        return {name: entry for name, entry in LAZY_COMMANDS.items() if name not in self.commands}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self._lazy()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = self._lazy().get(cmd_name)
        if lazy is not None:
            command = getattr(importlib.import_module(lazy[0]), lazy[1])
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        lazy = self._lazy()
        rows = []
        for name in self.list_commands(ctx):
            if name in lazy:
                rows.append((name, lazy[name][2]))
            else:
                command = self.commands[name]
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(formatter.width - 20)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if colour_wanted() is False:
            extra.setdefault("color", False)
        return super().make_context(info_name, args, parent, **extra)


@click.group(
    cls=CommandGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="-n, -A and -o may come before the command or after it, as may every option above.",
)
@group_options
@click.version_option(__version__, prog_name="nsinspect")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Which Linux namespaces do a pod's containers share: with the pod's pause container, with
    the host, with another pod, or with nobody?

    Reports come from this node's /proc, or, where a cluster is configured (a kubeconfig),
    from the nsinspect agent on the pod's node through the API server. Colour only on a
    terminal, and never with NO_COLOR set or TERM=dumb."""
    global_options(ctx)


def _complete_pods(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from .completion import complete_pod_names  # only when the shell asks

    return list(complete_pod_names(ctx, param, incomplete))


@cli.command(epilog=GLOBAL_EPILOG)
@click.argument("name", shell_complete=_complete_pods)
@watch_option
@command_options(POD_FORMATS)
@click.pass_context
def pod(ctx: click.Context, name: str, watching: bool) -> None:
    """Report one pod (NAME, or pod/NAME): what each container shares with the sandbox, the
    host, or nobody, and what is inside the shared namespaces (interfaces, listening ports,
    hostname, IPC objects). -o wide adds ids, inodes and each container's process (user,
    threads, memory, CPU, start); -o dot draws the pod (svg and png through Graphviz; png only
    into a file or a pipe)."""
    options = global_options(ctx)
    options.sources().prepare_pod_report()
    from .views import show_pod

    show_pod(options, name, watching)


@cli.command(epilog=GLOBAL_EPILOG)
@watch_option
@list_options(selector=True)
@command_options(LIST_FORMATS)
@click.pass_context
def pods(
    ctx: click.Context,
    watching: bool,
    selector: Any,
    sort_by: str | None,
    no_headers: bool,
) -> None:
    """List the pods on this node (remote: in the context's namespace, -n NS, or -A the
    cluster's) and how much their containers share. Nothing found says so on stderr."""
    from .views import show_pods

    show_pods(global_options(ctx), selector, sort_by, not no_headers, watching)


@cli.command(epilog=GLOBAL_EPILOG)
@click.argument("pid", type=click.IntRange(min=1))
@command_options(REPORT_FORMATS, scope=False)
@click.pass_context
def pid(ctx: click.Context, pid: int) -> None:
    """Show one process's namespaces, the pod it belongs to, and its user, threads, memory,
    CPU time and start (on this node)."""
    from .views import show_process

    show_process(global_options(ctx), pid)


def parse_namespace_argument(value: str) -> tuple[str, int]:
    """`net:4026532177`, `net:[4026532177]` (as readlink prints it) or `ns/net:4026532177`
    (as -o name prints it)."""
    found = NS_ARGUMENT.match(value.strip())
    if found is None or found.group("type") not in NS_ARGUMENT_TYPES:
        raise click.BadParameter(
            f"{value!r} is not TYPE:INODE; TYPE is one of {', '.join(NS_ARGUMENT_TYPES)}, "
            "e.g. net:4026532177 or net:[4026532177]",
            param_hint="NAMESPACE",
        )
    ns_type = found.group("type")
    # The *_for_children links point at namespaces of the plain type.
    return ns_type.removesuffix("_for_children"), int(found.group("inode"))


@cli.command(name="ns", epilog=GLOBAL_EPILOG)
@click.argument("namespace", required=False)
@list_options(selector=False)
@command_options(LIST_FORMATS, scope=False)
@click.pass_context
def namespace_command(
    ctx: click.Context, namespace: str | None, sort_by: str | None, no_headers: bool
) -> None:
    """Show who is in one namespace (TYPE:INODE) on this node: processes, pods, pins. Without
    TYPE:INODE, list the pinned namespaces and the orphans among them (-o name: ns/TYPE:INODE).
    One namespace takes table, wide, json, yaml and jsonpath."""
    from .views import show_namespace, show_pinned

    options = global_options(ctx)
    if namespace is None:
        show_pinned(options, sort_by, not no_headers)
        return
    ns_type, inode = parse_namespace_argument(namespace)
    show_namespace(options, ns_type, inode)


cli.add_command(doctor)


def main() -> None:
    cli(prog_name="nsinspect")
