"""Where a report comes from: this node's /proc (local) or the cluster's agents (remote)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from .local import NAMES_TIMEOUT_SECONDS, KubernetesNames, LocalSource
from .remote import RemoteConfig, RemoteSource, cluster_configured

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Sources:
    local: LocalSource
    remote_config: RemoteConfig
    force_local: bool

    def __post_init__(self) -> None:
        # Local mode asks the API server for the names no runtime gave, with the same
        # kubeconfig and context as remote mode.
        config = self.remote_config
        self.local.kubernetes = KubernetesNames(
            config.kubeconfig,
            config.context,
            timeout=min(config.timeout, NAMES_TIMEOUT_SECONDS),
            warn_unusable=self.force_local,
        )

    def remote(self, output: str) -> RemoteSource | None:
        """The remote source when a cluster is configured and --local was not given.

        When the choice was made for the user, a table says which on stderr (never JSON/YAML:
        scripts read stdout alone anyway, but keep stderr quiet for them too).
        """
        if self.force_local:
            return None
        remote = cluster_configured(self.remote_config.kubeconfig)
        if remote and output in ("table", "wide"):
            click.echo("nsinspect: asking the cluster's agents (--local: scan this node)", err=True)
        return RemoteSource(self.remote_config) if remote else None


def cluster_options(func: F) -> F:
    """The options of remote mode, on the command group."""
    options = [
        click.option("--kubeconfig", default=None, type=click.Path(dir_okay=False),
                     help="Kubeconfig file [default: $KUBECONFIG or ~/.kube/config]."),
        click.option("--context", "kube_context", default=None, help="Kubeconfig context."),
        click.option("--local", "force_local", is_flag=True,
                     help="Scan this node's /proc even when a cluster is configured."),
        click.option("--agent-namespace", default="nsinspect", show_default=True,
                     help="Namespace of the nsinspect agents."),
        click.option("--request-timeout", default=10.0, show_default=True,
                     type=click.FloatRange(min=0.1), help="Seconds to wait for the API server."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func
