"""`nsinspect` and `kubectl nsinspect`: what a pod's containers share, and with whom."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..agent import __version__
from ..agent.report import ALL_NS_TYPES, value_or
from ..agent.scanner import ScanConfig
from .agent_command import agent
from .doctor import doctor
from .graph import GRAPH_FORMATS, emit_graph
from .local import LocalSource
from .output import emit_document, warn_unseen
from .pinned import render_pinned
from .remote import RemoteConfig, warn_unreachable
from .render import (
    render_namespace,
    render_pod,
    render_pod_list,
    render_process,
)
from .runtime_options import runtime_options
from .sources import Sources, cluster_options
from .terminal_text import CommandError

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "wide", "json", "yaml")
NS_ARGUMENT = re.compile(r"^(?P<type>[a-z_]+):\[?(?P<inode>\d+)\]?$")


def output_option(func: F, formats: tuple[str, ...] = FORMATS, note: str = "") -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Choice(formats),
        default="table",
        show_default=True,
        help=f"Output format, as kubectl's -o.{note}",
    )(func)


def pod_output_option(func: F) -> F:
    """`pod` can also draw the pod."""
    note = " dot prints a Graphviz picture of the pod; svg and png render it (need Graphviz)."
    return output_option(func, FORMATS + GRAPH_FORMATS, note)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--proc-root",
    envvar="NSINSPECT_PROC_ROOT",
    default="/proc",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
    help="Where the node's /proc is (/host/proc in a DaemonSet). Env: NSINSPECT_PROC_ROOT.",
)
@click.option(
    "--host-root",
    envvar="NSINSPECT_HOST_ROOT",
    default="/",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
    help="Where the node's / is, for runtime state (/host in a DaemonSet). "
    "Env: NSINSPECT_HOST_ROOT.",
)
@runtime_options
@cluster_options
@click.version_option(__version__, prog_name="nsinspect")
@click.pass_context
def cli(
    ctx: click.Context,
    *,
    proc_root: str,
    host_root: str,
    cri_sockets: tuple[str, ...],
    runtime_state: dict[str, str],
    kubeconfig: str | None,
    kube_context: str | None,
    force_local: bool,
    agent_namespace: str,
    request_timeout: float,
) -> None:
    """Which Linux namespaces do a pod's containers share: with the pod's pause container, with
    the host, with another pod, or with nobody?

    Reports come from this node's /proc, or, where a cluster is configured (a kubeconfig),
    from the nsinspect agent on the pod's node through the API server."""
    local = LocalSource(
        ScanConfig(
            proc_root=proc_root,
            host_root=host_root,
            cri_sockets=cri_sockets or None,
            state_dirs=runtime_state,
        )
    )
    remote = RemoteConfig(kubeconfig, kube_context, agent_namespace, timeout=request_timeout)
    ctx.obj = Sources(local, remote, force_local)


@cli.command()
@click.argument("name")
@click.option("-n", "--namespace", default=None, help="The pod's Kubernetes namespace.")
@pod_output_option
@click.pass_obj
def pod(sources: Sources, name: str, namespace: str | None, output: str) -> None:
    """Report one pod: what each container shares with the sandbox, the host, or nobody, and
    what is inside the shared namespaces (interfaces, listening ports, hostname, IPC objects)."""
    remote = sources.remote(output)
    if remote is not None:
        report = remote.pod_report(name, namespace)
    else:
        report = sources.local.pod_report(name, namespace)
    if output in GRAPH_FORMATS:
        emit_graph(report, output)
    elif not emit_document(report, output):
        render_pod(report, wide=output == "wide")
    warn_unseen(report.errors)


@cli.command()
@click.option("-n", "--namespace", default=None, help="Only pods in this Kubernetes namespace.")
@click.option("-A", "--all-namespaces", is_flag=True, help="All namespaces (the default).")
@output_option
@click.pass_obj
def pods(sources: Sources, namespace: str | None, all_namespaces: bool, output: str) -> None:
    """List every pod on this node (remote: in the namespace, or -A in the cluster) and how
    much its containers share."""
    if namespace is not None and all_namespaces:
        raise click.UsageError("-n and -A exclude each other")
    remote = sources.remote(output)
    if remote is not None:
        document = remote.pod_list(namespace, all_namespaces)
        warn_unreachable(document)
    else:
        document = sources.local.reports.pod_list(namespace)
    if not emit_document(document, output):
        render_pod_list(document, wide=output == "wide")
    warn_unseen(value_or(document.errors, []))


@cli.command()
@click.argument("pid", type=click.IntRange(min=1))
@output_option
@click.pass_obj
def pid(sources: Sources, pid: int, output: str) -> None:
    """Show one process's namespaces and the pod it belongs to (on this node)."""
    source = sources.local
    report = source.reports.process_report(pid)
    if report is None:
        raise CommandError(f"no process {pid} under {source.config.proc_root}")
    if not emit_document(report, output):
        render_process(report, wide=output == "wide")
    warn_unseen(report.errors)


def parse_namespace_argument(value: str) -> tuple[str, int]:
    """`net:4026532177` or `net:[4026532177]`, as readlink prints it."""
    found = NS_ARGUMENT.match(value.strip())
    if found is None or found.group("type") not in ALL_NS_TYPES:
        raise click.BadParameter(
            f"{value!r} is not TYPE:INODE; TYPE is one of {', '.join(ALL_NS_TYPES)}, "
            "e.g. net:4026532177 or net:[4026532177]",
            param_hint="NAMESPACE",
        )
    ns_type = found.group("type")
    # The *_for_children links point at namespaces of the plain type.
    return ns_type.removesuffix("_for_children"), int(found.group("inode"))


@cli.command(name="ns")
@click.argument("namespace", required=False)
@output_option
@click.pass_obj
def namespace_command(sources: Sources, namespace: str | None, output: str) -> None:
    """Show who is in one namespace (TYPE:INODE) on this node: processes, pods, pins. Without
    TYPE:INODE, list the pinned namespaces and the orphans among them."""
    reports = sources.local.reports
    if namespace is None:
        pinned = reports.pinned_list()
        if not emit_document(pinned, output):
            render_pinned(pinned, wide=output == "wide")
        warn_unseen(value_or(pinned.errors, []))
        return
    ns_type, inode = parse_namespace_argument(namespace)
    report = reports.namespace_report(ns_type, inode)
    unseen = value_or(report.errors, [])
    if not report.processes and not report.pins:
        warn_unseen(unseen)  # a process in it may be among what the scan could not see
        raise CommandError(f"no process is in {ns_type}:[{inode}] and nothing pins it on this node")
    if not emit_document(report, output):
        render_namespace(report, wide=output == "wide")
    warn_unseen(unseen)


cli.add_command(agent)
cli.add_command(doctor)


def main() -> None:
    cli(prog_name="nsinspect")
