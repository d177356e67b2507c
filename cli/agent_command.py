"""`nsinspect agent`: the node daemon's command line."""

from __future__ import annotations

import dataclasses
import logging
import os

import click

from ..agent.daemon import jsonlog
from ..agent.scanner import ProcRootError
from .sources import Sources


@click.command(name="agent")
@click.option(
    "--bind",
    envvar="NSINSPECT_BIND",
    default="0.0.0.0",
    show_default=True,
    help="Address to listen on. Env: NSINSPECT_BIND.",
)
@click.option(
    "--port",
    envvar="NSINSPECT_PORT",
    default=9977,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port for metrics and the API. Env: NSINSPECT_PORT.",
)
@click.option(
    "--interval",
    envvar="NSINSPECT_INTERVAL",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between scans. Env: NSINSPECT_INTERVAL.",
)
@click.option(
    "--scan-timeout",
    envvar="NSINSPECT_SCAN_TIMEOUT",
    default=None,
    type=click.FloatRange(min=0.1),
    help="A scan running longer than this many seconds fails /healthz, so the liveness probe "
    "restarts the agent [default: 4 intervals, at least 30]. Env: NSINSPECT_SCAN_TIMEOUT.",
)
@click.option(
    "--node-name",
    envvar="NODE_NAME",
    default="",
    help="This node's name (the downward API's spec.nodeName). Env: NODE_NAME.",
)
@click.option(
    "--kubeconfig",
    envvar="NSINSPECT_KUBECONFIG",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Watch pods through this kubeconfig instead of the in-cluster service account.",
)
@click.option("--context", "kube_context", default=None, help="The kubeconfig context to use.")
@click.option(
    "--kubernetes/--no-kubernetes",
    default=None,
    help="Read pod specs from the API server [default: in a cluster or with --kubeconfig].",
)
@click.option(
    "--log-level",
    envvar="NSINSPECT_LOG_LEVEL",
    default="info",
    show_default=True,
    type=click.Choice(jsonlog.LEVELS),
    help="Env: NSINSPECT_LOG_LEVEL.",
)
@click.pass_obj
def agent(
    sources: Sources,
    *,
    bind: str,
    port: int,
    interval: float,
    scan_timeout: float | None,
    node_name: str,
    kubeconfig: str | None,
    kube_context: str | None,
    kubernetes: bool | None,
    log_level: str,
) -> None:
    """Run the node agent: scan on an interval; serve /metrics, /api/v1, /healthz, /readyz."""
    from ..agent.daemon.agent import Agent, AgentConfig  # the server stack, only for the agent

    jsonlog.configure(log_level)
    config = AgentConfig(
        scan=dataclasses.replace(sources.local.config, node_name=node_name),
        bind=bind,
        port=port,
        interval=interval,
        scan_timeout=scan_timeout,
        kubeconfig=kubeconfig,
        kube_context=kube_context,
        kubernetes=kubernetes,
    )
    try:
        daemon = Agent(config)
    except ProcRootError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        daemon.run()
    except OSError as exc:  # the port is taken, the address is not ours
        raise click.ClickException(f"cannot listen on {bind}:{port}: {exc.strerror}") from exc
    # Exit at once: a scan still running would hold interpreter teardown for as long as it
    # takes (about a second on a busy node), and the agent has nothing to save but its log.
    logging.shutdown()
    os._exit(0)
