"""kubectl's habit: a global flag goes before or after the verb (`nsinspect --context prod pods`,
`nsinspect pods --context prod`, `nsinspect -n kube-system pods`).

Each global option is declared twice, on the group (with its default and environment variable)
and on every command (hidden, no default), and both store into one `GlobalOptions` on the root
context's `obj` through a callback; a command's copy stores only what the command line gave, so
the later place wins and a default never undoes an explicit value. Other code (completion, the
commands) reads the options from `ctx.find_root().obj` (`global_options(ctx)`).

Light on purpose: click and the standard library only; `GlobalOptions.sources()` imports the
scanner and the API client when a command first needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from .duration import Duration
from .formats import OutputFormat, OutputSpec
from .runtime_options import cri_socket_help, parse_state_dirs, runtime_state_help

if TYPE_CHECKING:
    from .local import LocalSource
    from .sources import Sources

F = TypeVar("F", bound=Callable[..., Any])
NO_NAMESPACE = "-"  # `-n -`: the pods with no Kubernetes namespace (podman, runtime-less)


@dataclass
class GlobalOptions:
    """What the global flags said, wherever on the command line they were."""

    proc_root: str = "/proc"
    host_root: str = "/"
    cri_sockets: tuple[str, ...] = ()
    runtime_state: dict[str, str] = field(default_factory=dict)
    kubeconfig: str | None = None
    context: str | None = None
    force_local: bool = False
    agent_namespace: str = "nsinspect"
    request_timeout: float = 10.0
    namespace: str | None = None
    all_namespaces: bool = False
    output: OutputSpec = field(default_factory=OutputSpec)
    _sources: Sources | None = None

    def sources(self) -> Sources:
        """Where reports come from (this node or the cluster), made once, on first use."""
        if self._sources is None:
            from ..agent.scanner import ScanConfig
            from .local import LocalSource
            from .remote import RemoteConfig
            from .sources import Sources

            local = LocalSource(
                ScanConfig(
                    proc_root=self.proc_root,
                    host_root=self.host_root,
                    cri_sockets=self.cri_sockets or None,
                    state_dirs=self.runtime_state,
                )
            )
            remote = RemoteConfig(
                self.kubeconfig, self.context, self.agent_namespace, timeout=self.request_timeout
            )
            self._sources = Sources(local, remote, self.force_local)
        return self._sources

    @property
    def local(self) -> LocalSource:
        """The scan of this node with these options (`nsinspect agent` scans with it too)."""
        return self.sources().local

    def local_namespace(self) -> str | None:
        """-n for a scan of this node: `-` (and "") is no Kubernetes namespace; -A is all."""
        if self.all_namespaces or self.namespace is None:
            return None
        return "" if self.namespace == NO_NAMESPACE else self.namespace


def global_options(ctx: click.Context) -> GlobalOptions:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalOptions):
        root.obj = GlobalOptions()
    options: GlobalOptions = root.obj
    return options


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep a global option's value: the group's always (default, environment, command line),
    a command's only when its command line gave it."""
    source = ctx.get_parameter_source(param.name or "")
    on_command = ctx.parent is not None
    if not on_command or source is ParameterSource.COMMANDLINE:
        setattr(global_options(ctx), GLOBAL_FIELDS[param.name or ""], value)
    return value


GLOBAL_FIELDS = {
    "proc_root": "proc_root",
    "host_root": "host_root",
    "cri_sockets": "cri_sockets",
    "runtime_state": "runtime_state",
    "kubeconfig": "kubeconfig",
    "kube_context": "context",
    "force_local": "force_local",
    "agent_namespace": "agent_namespace",
    "request_timeout": "request_timeout",
    "namespace": "namespace",
    "all_namespaces": "all_namespaces",
    "output": "output",
}

NAMESPACE_HELP = (
    'The pod\'s Kubernetes namespace. Locally `-n -` (or -n "") means pods with no Kubernetes '
    "namespace (podman pods, pods no runtime knows); remotely the default is the context's "
    "namespace, as kubectl's."
)
ALL_NAMESPACES_HELP = (
    "Every namespace, as kubectl's -A (it overrides -n). Locally: every pod on this node, as "
    "without -n. Remotely: every namespace of the cluster (without -A or -n: the context's "
    "namespace, as kubectl)."
)


def _node_options(on_group: bool) -> list[Callable[[F], F]]:
    def env(name: str) -> str | None:
        return name if on_group else None

    hidden = not on_group
    state_dirs: Any = parse_state_dirs

    def runtime_state(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        return _store(ctx, param, state_dirs(ctx, param, value))

    return [
        click.option("--proc-root", envvar=env("NSINSPECT_PROC_ROOT"),
                     default="/proc" if on_group else None, show_default=True, hidden=hidden,
                     type=click.Path(exists=True, file_okay=False), expose_value=False,
                     callback=_store,
                     help="Where the node's /proc is (/host/proc in a DaemonSet). "
                     "Env: NSINSPECT_PROC_ROOT."),
        click.option("--host-root", envvar=env("NSINSPECT_HOST_ROOT"),
                     default="/" if on_group else None, show_default=True, hidden=hidden,
                     type=click.Path(exists=True, file_okay=False), expose_value=False,
                     callback=_store,
                     help="Where the node's / is, for runtime state (/host in a DaemonSet). "
                     "Env: NSINSPECT_HOST_ROOT."),
        click.option("--cri-socket", "cri_sockets", multiple=True,
                     envvar=env("NSINSPECT_CRI_SOCKET"), metavar="PATH", hidden=hidden,
                     expose_value=False, callback=_store, help=cri_socket_help),
        click.option("--runtime-state", "runtime_state", multiple=True,
                     envvar=env("NSINSPECT_RUNTIME_STATE"), metavar="RUNTIME=DIR",
                     hidden=hidden, expose_value=False, callback=runtime_state,
                     help=runtime_state_help),
    ]  # fmt: skip


def _cluster_options(on_group: bool) -> list[Callable[[F], F]]:
    hidden = not on_group

    def default(value: Any) -> Any:
        return value if on_group else None

    return [
        click.option("--kubeconfig", type=click.Path(dir_okay=False), hidden=hidden,
                     expose_value=False, callback=_store,
                     help="Kubeconfig file [default: $KUBECONFIG or ~/.kube/config]."),
        click.option("--context", "kube_context", hidden=hidden, expose_value=False,
                     callback=_store, help="Kubeconfig context."),
        click.option("--local", "force_local", is_flag=True, default=default(False),
                     hidden=hidden, expose_value=False, callback=_store,
                     help="Scan this node's /proc even when a cluster is configured."),
        click.option("--agent-namespace", default=default("nsinspect"), show_default=True,
                     hidden=hidden, expose_value=False, callback=_store,
                     help="Namespace of the nsinspect agents."),
        click.option("--request-timeout", default=default("10s"), show_default=True,
                     type=Duration(), hidden=hidden, expose_value=False, callback=_store,
                     help="How long to wait for the API server and an agent: a duration "
                     "(500ms, 5s, 1m30s; a bare number is seconds; 0 waits for ever)."),
    ]  # fmt: skip


def _complete_namespaces(ctx: click.Context, param: click.Parameter, incomplete: str) -> Any:
    from .completion import complete_namespaces  # only when the shell asks

    return complete_namespaces(ctx, param, incomplete)


def _scope_options(on_group: bool, with_scope: bool, formats: str) -> list[Callable[[F], F]]:
    options: list[Callable[[F], F]] = []
    if with_scope:
        options += [
            click.option("-n", "--namespace", expose_value=False, callback=_store,
                         metavar="NAMESPACE", shell_complete=_complete_namespaces,
                         help=NAMESPACE_HELP),
            click.option("-A", "--all-namespaces", is_flag=True,
                         default=False if on_group else None, expose_value=False,
                         callback=_store, help=ALL_NAMESPACES_HELP),
        ]  # fmt: skip
    options.append(
        click.option(
            "-o",
            "--output",
            type=OutputFormat(),
            expose_value=False,
            callback=_store,
            default="table" if on_group else None,
            help=f"Output format, as kubectl's -o: {formats}. -o=json, -ojson and "
            "--output=json are the same; jsonpath takes kubectl's templates, e.g. "
            "-o jsonpath='{.items[*].pod.name}'.",
        )
    )
    return options


def _apply(func: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def group_options(func: F) -> F:
    """Every global option, on the command group, shown in `nsinspect --help`."""
    formats = "table, wide, json, yaml, name, jsonpath=TEMPLATE (and dot, svg, png for `pod`)"
    return _apply(
        func,
        [*_node_options(True), *_cluster_options(True), *_scope_options(True, True, formats)],
    )


def command_options(formats: tuple[str, ...], *, scope: bool = True) -> Callable[[F], F]:
    """A command's -n/-A (when it has a scope) and -o, and the global options, hidden, so they
    may come after the verb as well."""
    shown = ", ".join("jsonpath=TEMPLATE" if kind == "jsonpath" else kind for kind in formats)

    def decorate(func: F) -> F:
        return _apply(
            func,
            [
                *_scope_options(False, scope, shown),
                *_node_options(False),
                *_cluster_options(False),
            ],
        )

    return decorate


GLOBAL_EPILOG = (
    "Global options (--context, --kubeconfig, --local, --request-timeout, --agent-namespace, "
    "--proc-root, --host-root, --cri-socket, --runtime-state) may also come after the command; "
    "see nsinspect --help."
)
