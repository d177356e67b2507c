"""The reports a node gives, from one snapshot: what the CLI's local mode and the agent serve.

Built with `report.build`; a single pod's report also looks inside its namespaces
(`namespace_contents`), which enters them and so is done only when that report is asked for.
"""

from __future__ import annotations

import os

from ..discovery.privileges import CAP_SYS_PTRACE, has_capability
from ..model import Pod, ScanStage, Snapshot
from ..report import (
    FindingList,
    NamespaceList,
    NamespaceReport,
    PodList,
    PodReport,
    ProcessReport,
    build,
)

DENIED = ("EACCES", "EPERM")


class NodeReports:
    """Answers report questions from one snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def pod_names(self) -> list[tuple[str, str]]:
        """(namespace, name) of every pod, in the snapshot's order; a pair may repeat."""
        return [(pod.namespace, pod.name) for pod in self.snapshot.pods]

    def pod_list(self, namespace: str | None = None) -> PodList:
        pods = [p for p in self.snapshot.pods if namespace is None or p.namespace == namespace]
        return build.pod_list(pods, self.snapshot)

    def find(self, namespace: str, name: str) -> Pod | None:
        return next(
            (p for p in self.snapshot.pods if (p.namespace, p.name) == (namespace, name)), None
        )

    def pod_report(self, pod: Pod, contents: bool = True) -> PodReport:
        """One pod's report; with `contents`, what is inside its shared namespaces too."""
        if not contents:
            return build.pod_report(pod, self.snapshot)
        from ..namespace_contents.collect import pod_details  # pyroute2: ~8 MiB, only if asked

        return build.pod_report(pod, self.snapshot, pod_details(pod, self.snapshot))

    def process_report(self, pid: int) -> ProcessReport | None:
        process = self.snapshot.processes.get(pid)
        return None if process is None else build.process_report(process, self.snapshot)

    def namespace_report(self, ns_type: str, inode: int) -> NamespaceReport:
        return build.namespace_report(ns_type, inode, self.snapshot)

    def namespace_list(self) -> NamespaceList:
        return build.namespace_list(self.snapshot)

    def pinned_list(self) -> NamespaceList:
        """The NamespaceList of the namespaces something pins, with the node's orphans: short
        on any node, unlike the list of every namespace."""
        return build.namespace_list(self.snapshot, pinned_only=True)

    def finding_list(self, namespace: str | None = None) -> FindingList:
        return build.finding_list(self.snapshot, namespace)

    def permission_hint(self) -> str | None:
        """A hint when namespace links were unreadable for lack of privilege, else None."""
        denied = {
            e.pid
            for e in self.snapshot.errors
            if e.stage is ScanStage.NS and e.reason in DENIED and e.pid is not None
        }
        denied -= {1}  # pid 1 is unreadable even to root on some VMs
        if not denied:
            return None
        if os.geteuid() != 0 or not has_capability(CAP_SYS_PTRACE):
            return (
                f"the namespaces of {len(denied)} processes could not be read: reading another "
                "user's /proc/<pid>/ns needs CAP_SYS_PTRACE (run as root, or grant the capability)"
            )
        return f"the namespaces of {len(denied)} processes could not be read (permission denied)"
