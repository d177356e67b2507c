"""Reports from a scan of this node's /proc: the CLI's local mode."""

from __future__ import annotations

from typing import Any

import click

from nsinspect.agent import documents
from nsinspect.agent.model import Snapshot
from nsinspect.agent.snapshot import ProcRootError, ScanConfig, SnapshotBuilder


class LocalSource:
    """Builds one snapshot on first use and answers every question from it."""

    where = "local"

    def __init__(self, config: ScanConfig) -> None:
        self.config = config
        self._snapshot: Snapshot | None = None

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            try:
                self._snapshot = SnapshotBuilder(self.config).build()
            except ProcRootError as exc:
                raise click.UsageError(str(exc)) from exc
        return self._snapshot

    def pod_list(self) -> dict[str, Any]:
        return documents.pod_list_document(self.snapshot.pods, self.snapshot)

    def with_details(self, report: dict[str, Any]) -> dict[str, Any]:
        """The pod's report again, now with its network, UTS and IPC sections: this enters the
        pod's namespaces, so only the single-pod report asks for it."""
        for pod in self.snapshot.pods:
            if pod.sandbox.id == report["sandbox"]["id"] and pod.name == report["pod"]["name"]:
                from nsinspect.agent.inside.collect import pod_details  # pyroute2 is heavy

                details = pod_details(pod, self.snapshot)
                return documents.pod_document(pod, self.snapshot, details)
        return report

    def process(self, pid: int) -> dict[str, Any] | None:
        process = self.snapshot.processes.get(pid)
        return None if process is None else documents.process_document(process, self.snapshot)

    def namespace(self, ns_type: str, inode: int) -> dict[str, Any]:
        return documents.namespace_document(ns_type, inode, self.snapshot)

    def scan_errors(self) -> list[dict[str, Any]]:
        return [documents.error_document(e) for e in self.snapshot.errors]
