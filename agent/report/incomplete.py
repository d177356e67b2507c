"""What a scan could not see, one entry per cause: the `errors` of the list documents.

A scan's errors are per process and per path: thousands on a node scanned without privilege.
A person and a script want one line per cause instead ("the namespaces of 412 processes could not
be read: EACCES"), with the count, an example path, and for a missing privilege what would help.
A process that exited mid-scan is gone, not unseen: it is left out. So are pid 1's namespace
links when kthreadd stood in for them (the host reference's note says so): pid 1 is unreadable
even to root on some VMs.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from msgspec import UNSET

from ..model import HostReference, HostReferenceKind, ScanError, ScanStage, Snapshot
from .pod import ScanErrorReport

DENIED = ("EACCES", "EPERM")
PTRACE_HINT = (
    "reading /proc/<pid>/{what} of another user's process, or of one holding capabilities "
    "nsinspect lacks, needs CAP_SYS_PTRACE (run as root, or grant the capability)"
)
# How each stage names what it could not read, for `count` of them.
UNSEEN = {
    ScanStage.STAT: "{processes} could not be read",
    ScanStage.NS: "the namespaces of {processes} could not be read",
    ScanStage.CGROUP: "the cgroups of {processes} could not be read",
    ScanStage.MOUNTS: "the mount table {path} could not be read (pinned namespaces unknown)",
    ScanStage.FDS: "the fd tables of {runtime_processes} could not be read (fd pins)",
    ScanStage.RUNTIME: "{path} could not be read",
    ScanStage.CRI: "the CRI socket {path} could not be asked",
}
UNCONCLUDED = {
    "OrphanNamespace": "{pinned_namespaces} not checked for OrphanNamespace",
    "SandboxMissing": "{pods} not checked for SandboxMissing",
}


def _counted_words(count: int) -> dict[str, str]:
    """The counted nouns the messages use, singular for 1."""
    one = count == 1
    return {
        "count": str(count),
        "processes": f"{count} process" if one else f"{count} processes",
        "runtime_processes": f"{count} runtime process" if one else f"{count} runtime processes",
        "pinned_namespaces": (
            f"{count} pinned namespace was" if one else f"{count} pinned namespaces were"
        ),
        "pods": f"{count} pod was" if one else f"{count} pods were",
        "findings": f"{count} finding was" if one else f"{count} findings were",
    }


class Privileges(msgspec.Struct, frozen=True):
    """What the scanning process held: decides which hint helps."""

    root: bool = True
    ptrace: bool = True


def _cause(error: ScanError) -> str:
    """The part of a reason that names the cause, the same for every error of one cause."""
    if error.stage is ScanStage.FDS and error.reason.endswith("(bound reached)"):
        return "bound reached"
    if error.stage is ScanStage.FINDINGS:
        return error.reason.partition(": ")[0]
    return error.reason


def _counted(error: ScanError, host: HostReference) -> bool:
    if error.process_gone:
        return False
    return not (
        error.stage is ScanStage.NS and error.pid == 1 and host.kind is HostReferenceKind.KTHREADD
    )


def _message(
    stage: ScanStage, cause: str, group: list[ScanError], count: int, held: Privileges
) -> str:
    first = group[0]
    path = first.path or ""
    if stage is ScanStage.FINDINGS:
        code = cause.removeprefix("not checked for ")
        text = UNCONCLUDED.get(code, "{findings} not concluded").format(**_counted_words(count))
        return f"{text}: {first.reason.partition(': ')[2]}"
    text = UNSEEN.get(stage, "{count} reads failed").format(path=path, **_counted_words(count))
    if stage in (ScanStage.RUNTIME, ScanStage.CRI, ScanStage.MOUNTS) and len(group) > 1:
        text += f" (and {len(group) - 1} more)"
    if stage is ScanStage.FDS and cause == "bound reached":
        return f"{text}: the scan's bound on fds was reached"
    text = f"{text}: {cause}"
    if cause in DENIED and stage in (ScanStage.NS, ScanStage.FDS) and not held.ptrace:
        text += "; " + PTRACE_HINT.format(what="ns" if stage is ScanStage.NS else "fd")
    elif cause in DENIED and not held.root:
        text += " (run as root)"
    return text


def host_entry(host: HostReference) -> ScanErrorReport | None:
    """When the node's namespaces were not read from pid 1 or kthreadd: every `host` verdict and
    host-sharing finding is relative to what stood in for them."""
    if host.kind in (HostReferenceKind.PID1, HostReferenceKind.KTHREADD):
        return None
    if host.kind is HostReferenceKind.SELF:
        consequence = (
            "'host' verdicts and host-sharing findings hold only if nsinspect runs in the "
            "node's namespaces"
        )
    else:
        consequence = "no verdict about the node's namespaces could be concluded"
    return ScanErrorReport(
        stage=ScanStage.HOST,
        reason=host.kind,
        pid=host.pid if host.pid else UNSET,
        count=1,
        message=f"the node's namespaces could not be read ({host.note}): {consequence}",
    )


def error_summary(
    errors: Iterable[ScanError], host: HostReference, held: Privileges
) -> list[ScanErrorReport]:
    """One ScanErrorReport per (stage, cause), in the order the causes were first met."""
    groups: dict[tuple[ScanStage, str], list[ScanError]] = {}
    for error in errors:
        if _counted(error, host):
            groups.setdefault((error.stage, _cause(error)), []).append(error)
    summary = [] if (entry := host_entry(host)) is None else [entry]
    for (stage, cause), group in groups.items():
        pids = {e.pid for e in group if e.pid is not None}
        count = len(pids) if pids else len(group)  # processes, else paths
        summary.append(
            ScanErrorReport(
                stage=stage,
                reason=cause,
                path=group[0].path or UNSET,
                count=count,
                message=_message(stage, cause, group, count, held),
            )
        )
    return summary


def snapshot_summary(snapshot: Snapshot, held: Privileges) -> list[ScanErrorReport]:
    return error_summary(snapshot.errors, snapshot.host, held)
