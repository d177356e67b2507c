"""`nsinspect agent`: the node daemon's command line.

Two processes (../shared/DESIGN.md, process and access model): the scanner holds the privileges and
listens on nothing; the server answers HTTP as uid 65534 with no capabilities, from the results
the scanner writes. `--role both` (the default, for a plain node) runs the scanner and starts the
server as its child; the DaemonSet runs each role in a container of its own.

Only click and the standard library are imported here: the command tree is built for every
`nsinspect` invocation, and the agent's modules load when the agent runs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from .sources import Sources

# The agent's log levels (agent/exchange/jsonlog.py LEVELS) and metrics detail levels
# (agent/metrics/pod_families.py MetricsDetail), spelled here so that `nsinspect --help` does not
# import the agent; tests/unit/test_metrics_detail.py holds them together.
LOG_LEVELS = ("debug", "info", "warning", "error")
METRICS_DETAILS = ("shared", "full")


@click.command(name="agent")
@click.option(
    "--bind",
    envvar="NSINSPECT_BIND",
    default="0.0.0.0",
    show_default=True,
    help="Address the server listens on for /metrics and the probes. Env: NSINSPECT_BIND.",
)
@click.option(
    "--port",
    envvar="NSINSPECT_PORT",
    default=9977,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port for /metrics, /healthz, /readyz, /livez. Env: NSINSPECT_PORT.",
)
@click.option(
    "--api-port",
    envvar="NSINSPECT_API_PORT",
    default=9978,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the JSON API, on 127.0.0.1 only: the CLI reaches it through the API server's "
    "pods/portforward, which RBAC gates (0: no API). Env: NSINSPECT_API_PORT.",
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
    help="A scan running longer than this many seconds, or no scan ending within an interval "
    "plus this, fails /healthz, so the liveness probe restarts the scanner [default: 4 "
    "intervals, at least 30]. Env: NSINSPECT_SCAN_TIMEOUT.",
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
    type=click.Choice(LOG_LEVELS),
    help="Env: NSINSPECT_LOG_LEVEL.",
)
@click.option(
    "--metrics-detail",
    envvar="NSINSPECT_METRICS_DETAIL",
    type=click.Choice(METRICS_DETAILS),
    default="shared",
    show_default=True,
    help="Scanner: which series each container has on /metrics. shared: "
    "nsinspect_container_namespace_shared for net, ipc, uts and pid (4 series a container); "
    "full: also the inode of each of its namespaces (nsinspect_container_namespace_info) and "
    "the mnt, user, cgroup and time types (16), for those who join on inodes. "
    "Env: NSINSPECT_METRICS_DETAIL.",
)
@click.option(
    "--role",
    envvar="NSINSPECT_ROLE",
    type=click.Choice(["both", "scanner", "server"]),
    default="both",
    show_default=True,
    help="scanner: scan and write results, listen on nothing; server: serve them over HTTP "
    "without privileges; both: the scanner, starting the server as its child. Env: NSINSPECT_ROLE.",
)
@click.option(
    "--results-dir",
    envvar="NSINSPECT_RESULTS_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the scanner writes each scan's results and its detail socket, and the server "
    "reads them [both: a fresh directory under /run, removed at exit]. Env: NSINSPECT_RESULTS_DIR.",
)
@click.option(
    "--metrics-auth/--no-metrics-auth",
    envvar="NSINSPECT_METRICS_AUTH",
    default=False,
    show_default=True,
    help="/metrics asks for a bearer token that TokenReview accepts and SubjectAccessReview "
    "allows `get` on /metrics (kube-rbac-proxy's check). Env: NSINSPECT_METRICS_AUTH.",
)
@click.option(
    "--api-auth",
    envvar="NSINSPECT_API_AUTH",
    type=click.Choice(["optional", "required"]),
    default="optional",
    show_default=True,
    help="The JSON API checks a bearer token when one is sent (TokenReview) and shows only the "
    "namespaces where its user may get pods; required: no token, no answer. "
    "Env: NSINSPECT_API_AUTH.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=None,
    help="Server: open connections at most [512].",
)
@click.option(
    "--max-connections-per-client",
    type=click.IntRange(1),
    default=None,
    help="Server: open connections per client address at most [32].",
)
@click.option(
    "--idle-timeout",
    type=click.IntRange(1),
    default=None,
    help="Server: seconds an idle connection is kept [10].",
)
@click.option(
    "--request-timeout",
    type=click.IntRange(1),
    default=None,
    help="Server: seconds a request may take to send its headers [5].",
)
@click.option(
    "--max-header-bytes",
    type=click.IntRange(256),
    default=None,
    help="Server: request header bytes at most; more is answered 431 [8192].",
)
@click.pass_obj
def agent(
    sources: Sources,
    /,
    *,
    bind: str,
    port: int,
    api_port: int,
    interval: float,
    scan_timeout: float | None,
    node_name: str,
    kubeconfig: str | None,
    kube_context: str | None,
    kubernetes: bool | None,
    log_level: str,
    metrics_detail: str,
    role: str,
    results_dir: Path | None,
    metrics_auth: bool,
    api_auth: str,
    **limits: float | None,
) -> None:
    """Run the node agent: scan on an interval; serve /metrics and the probes on --port, the JSON
    API on 127.0.0.1:--api-port."""
    from ..agent.daemon.server_child import ServerOptions  # the server stack, only for the agent

    if api_port and api_port == port:
        raise click.BadParameter("must differ from --port", param_hint="'--api-port'")
    options = ServerOptions(
        results_dir=results_dir or Path(),
        bind=bind,
        port=port,
        api_port=api_port,
        metrics_auth=metrics_auth,
        api_auth=api_auth,
        log_level=log_level,
        limits={name.replace("_", "-"): v for name, v in limits.items() if v is not None},
    )
    if role == "server":
        if results_dir is None:
            raise click.UsageError("--role server needs --results-dir (where the scanner writes)")
        command = [sys.executable, "-m", "nsinspect.agent.server", *options.arguments()]
        os.execv(sys.executable, command)  # the server alone: none of this process's modules
    if role == "scanner" and results_dir is None:
        raise click.UsageError("--role scanner needs --results-dir (where the server reads)")
    import msgspec

    from ..agent.daemon import jsonlog
    from ..agent.daemon.agent import AgentConfig, MetricsDetail, kubernetes_wanted

    jsonlog.configure(log_level)
    config = AgentConfig(
        scan=msgspec.structs.replace(sources.local.config, node_name=node_name),
        results_dir=results_dir or Path(),
        interval=interval,
        scan_timeout=scan_timeout,
        kubeconfig=kubeconfig,
        kube_context=kube_context,
        kubernetes=kubernetes,
        metrics_detail=MetricsDetail(metrics_detail),
    )
    if role == "scanner":
        _run_scanner(config)
    else:
        _run_both(config, options, kubernetes_wanted(config))
    # Exit at once: a scan still running would hold interpreter teardown for as long as it
    # takes (about a second on a busy node), and the agent has nothing to save but its log.
    logging.shutdown()
    os._exit(0)


def _daemon(config: Any) -> Any:
    from ..agent.daemon.agent import Agent
    from ..agent.scanner import ProcRootError

    try:
        return Agent(config)
    except ProcRootError as exc:
        raise click.UsageError(str(exc)) from exc


def _run_scanner(config: Any) -> None:
    _daemon(config).run()


def _run_both(config: Any, options: Any, kubernetes: bool) -> None:
    from ..agent.daemon import server_child
    from ..agent.daemon.kubeconfig_resolve import resolve

    credentials = None
    if kubernetes and config.kubeconfig:
        try:
            credentials = resolve(config.kubeconfig, config.kube_context)
        except Exception as exc:  # the scanner's own watch reports the same problem
            if options.metrics_auth or options.api_auth == "required":
                raise click.ClickException(
                    f"cannot check tokens: the kubeconfig gives no API credentials ({exc})"
                ) from exc
    elif not kubernetes and (options.metrics_auth or options.api_auth == "required"):
        raise click.UsageError(
            "--metrics-auth and --api-auth required check tokens with the cluster's "
            "TokenReview: they need Kubernetes (a kubeconfig or the in-cluster service account)"
        )
    created = config.results_dir == Path()
    results = server_child.results_directory() if created else config.results_dir
    exit_code = 0
    try:  # from here on, a directory made for this run goes with it, whatever happens
        config = dataclasses.replace(config, results_dir=results)
        daemon = _daemon(config)
        child = server_child.ServerChild(
            dataclasses.replace(options, results_dir=results), credentials
        )

        def server_ended(code: int) -> None:
            nonlocal exit_code
            exit_code = code or 1
            daemon.stop_event.set()

        try:
            daemon.run(on_started=lambda: child.start(server_ended))
        finally:
            child.stop()
    finally:
        if created:
            server_child.remove_results(results)
    if exit_code:
        logging.shutdown()
        click.echo(f"nsinspect agent: the server exited (code {exit_code}); see its log", err=True)
        os._exit(exit_code)
