"""Reports from a scan of this node's /proc: the CLI's local mode."""

from __future__ import annotations

import click

from ..agent.scanner import NodeReports, ProcRootError, ScanConfig, SnapshotBuilder


class LocalSource:
    """Scans once, on first use, and answers every question from that snapshot."""

    where = "local"

    def __init__(self, config: ScanConfig) -> None:
        self.config = config
        self._reports: NodeReports | None = None

    @property
    def reports(self) -> NodeReports:
        if self._reports is None:
            try:
                self._reports = NodeReports(SnapshotBuilder(self.config).build())
            except ProcRootError as exc:
                raise click.UsageError(str(exc)) from exc
        return self._reports
