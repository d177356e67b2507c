"""Where a report comes from: this node's /proc (local) or the cluster's agents (remote)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # the scanner and the API client load when a command first asks (start-up)
    from .local import LocalSource
    from .remote import RemoteConfig, RemoteSource


@dataclass
class Sources:
    local: LocalSource
    remote_config: RemoteConfig
    force_local: bool

    def __post_init__(self) -> None:
        # Local mode asks the API server for the names no runtime gave, with the same
        # kubeconfig and context as remote mode.
        from .local import NAMES_TIMEOUT_SECONDS, KubernetesNames

        config = self.remote_config
        self.local.kubernetes = KubernetesNames(
            config.kubeconfig,
            config.context,
            timeout=min(config.timeout, NAMES_TIMEOUT_SECONDS),
            warn_unusable=self.force_local,
        )

    @cached_property
    def cluster(self) -> bool:
        """Whether reports come from the cluster: one is configured and --local was not given.
        Decided once: finding the kubeconfig reads it, and warns of one that is unusable."""
        if self.force_local:
            return False
        from .remote import cluster_configured

        return cluster_configured(self.remote_config.kubeconfig)

    def prepare_pod_report(self) -> None:
        """Where the report comes from this node, start what it will need meanwhile (the
        netlink helper) before the report's modules load."""
        if not self.cluster:
            self.local.start_netlink_helper()

    def remote(self, output: str = "table") -> RemoteSource | None:
        """The remote source when a cluster is configured and --local was not given.

        When the choice was made for the user, a table says which on stderr (never JSON/YAML:
        scripts read stdout alone anyway, but keep stderr quiet for them too).
        """
        if not self.cluster:
            return None
        from .remote import RemoteSource

        if output in ("table", "wide"):
            click.echo("nsinspect: asking the cluster's agents (--local: scan this node)", err=True)
        return RemoteSource(self.remote_config)
