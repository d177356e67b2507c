"""The reports a node gives, from one snapshot: what the CLI's local mode and the agent serve.

Built with `report.build`; a single pod's report also looks inside its namespaces
(`namespace_contents`), which enters them and so is done only when that report is asked for.
Every document says what the scan could not see, one entry per cause (`report.incomplete`):
the list documents in `errors`, a single pod's or process's report after its own errors.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING

import msgspec

from ..discovery.privileges import CAP_SYS_PTRACE, has_capability
from ..model import Pod, Snapshot
from ..report import (
    FindingList,
    NamespaceList,
    NamespaceReport,
    PodList,
    PodReport,
    ProcessReport,
    ScanErrorReport,
    build,
)
from ..report.incomplete import Privileges, snapshot_summary
from .gc_pause import gc_paused

if TYPE_CHECKING:
    from ..namespace_contents.netlink_reads import NetlinkAnswerer
    from .process_facts import ProcessFactsReader


def held_privileges() -> Privileges:
    """What this process holds, for the hints of what would have let it see more."""
    return Privileges(root=os.geteuid() == 0, ptrace=has_capability(CAP_SYS_PTRACE))


class NodeReports:
    """Answers report questions from one snapshot."""

    def __init__(self, snapshot: Snapshot, held: Privileges | None = None) -> None:
        self.snapshot = snapshot
        self.held = held if held is not None else held_privileges()

    @cached_property
    def unseen(self) -> list[ScanErrorReport]:
        """What the scan could not see, one entry per cause; empty when it saw everything."""
        return snapshot_summary(self.snapshot, self.held)

    def pod_names(self) -> list[tuple[str, str]]:
        """(namespace, name) of every pod, in the snapshot's order; a pair may repeat."""
        return [(pod.namespace, pod.name) for pod in self.snapshot.pods]

    @gc_paused  # thousands of report structs, no cycles: see gc_pause.py
    def pod_list(self, namespace: str | None = None) -> PodList:
        pods = [p for p in self.snapshot.pods if namespace is None or p.namespace == namespace]
        return msgspec.structs.replace(build.pod_list(pods, self.snapshot), errors=self.unseen)

    def find(self, namespace: str, name: str) -> Pod | None:
        return next(
            (p for p in self.snapshot.pods if (p.namespace, p.name) == (namespace, name)), None
        )

    def pod_report(
        self,
        pod: Pod,
        contents: bool = True,
        netlink: NetlinkAnswerer | None = None,
        process_facts: bool = True,
    ) -> PodReport:
        """One pod's report; with `contents`, what is inside its shared namespaces too, and
        (unless not `process_facts`: the CLI's tables but -o wide show none) the process
        facts of each container's main process. `netlink` does the netlink reads of the
        contents (a helper started earlier: namespace_contents.netlink_helper), else this
        process does them."""
        if not contents:
            report = build.pod_report(pod, self.snapshot)
        else:
            from ..namespace_contents.collect import pod_details
            from ..namespace_contents.netlink_reads import IN_PROCESS  # pyroute2 when asked

            mains = [self.snapshot.processes.get(c.pid) for c in pod.containers if c.pid]
            facts = self._facts.facts(p for p in mains if p is not None) if process_facts else {}
            details = pod_details(pod, self.snapshot, netlink or IN_PROCESS)
            report = build.pod_report(pod, self.snapshot, details, process_facts=facts)
        return msgspec.structs.replace(report, errors=report.errors + self.unseen)

    def process_report(self, pid: int) -> ProcessReport | None:
        process = self.snapshot.processes.get(pid)
        if process is None:
            return None
        report = build.process_report(process, self.snapshot, self._facts.read(process))
        return msgspec.structs.replace(report, errors=report.errors + self.unseen)

    @cached_property
    def _facts(self) -> ProcessFactsReader:
        from .process_facts import ProcessFactsReader  # psutil: only for a single report

        return ProcessFactsReader(self.snapshot.proc_root, self.snapshot.host_root)

    def namespace_report(self, ns_type: str, inode: int) -> NamespaceReport:
        report = build.namespace_report(ns_type, inode, self.snapshot)
        return msgspec.structs.replace(report, errors=self.unseen)

    def namespace_list(self) -> NamespaceList:
        return msgspec.structs.replace(build.namespace_list(self.snapshot), errors=self.unseen)

    def pinned_list(self) -> NamespaceList:
        """The NamespaceList of the namespaces something pins, with the node's orphans: short
        on any node, unlike the list of every namespace."""
        pinned = build.namespace_list(self.snapshot, pinned_only=True)
        return msgspec.structs.replace(pinned, errors=self.unseen)

    def finding_list(self, namespace: str | None = None) -> FindingList:
        return msgspec.structs.replace(
            build.finding_list(self.snapshot, namespace), errors=self.unseen
        )
