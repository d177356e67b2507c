"""Tables for people, drawn from the report model (local and remote alike).

Plain, kubectl-like columns: they read well in a terminal and still grep and awk cleanly when
piped. Colour is added only on a terminal (click.echo drops it elsewhere). Every line goes out
through echo_lines, which escapes the node's control characters (terminal_text).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from ..agent.report import (
    NS_TYPES,
    SPEC_TYPES,
    FindingList,
    FindingReport,
    NamespaceReport,
    PodList,
    PodReport,
    ProcessReport,
    Role,
    SandboxProcess,
    ScanErrorReport,
    Severity,
    Verdict,
    VerdictEntry,
    value_or,
)
from .details import detail_lines
from .process_facts import process_fact_lines, process_report_fact_lines
from .runtime_lines import runtime_lines
from .summary import summarize
from .table import Cell, dash, format_table
from .terminal_text import EscapedLine, echo_lines, escape_controls

VERDICT_COLOUR = {
    Verdict.POD: "green",
    Verdict.HOST: "yellow",
    Verdict.OTHER: "red",
    Verdict.UNKNOWN: "magenta",
}
SEVERITY_COLOUR = {Severity.CRITICAL: "red", Severity.WARNING: "yellow"}


def short_id(container_id: str) -> str:
    return container_id[:12] if container_id else "-"


def _verdict_cell(entry: VerdictEntry | None, wide: bool) -> Cell:
    if entry is None:
        return Cell("-")
    verdict = entry.verdict
    label = f"other:{value_or(entry.other_pod, '?')}" if verdict is Verdict.OTHER else str(verdict)
    if wide:
        detail = entry.inode if entry.inode is not None else value_or(entry.reason, "")
        label = f"{label}:{detail}"
    return Cell.coloured(label, VERDICT_COLOUR.get(verdict))


def pod_header_lines(report: PodReport) -> list[str]:
    pod, sandbox = report.pod, report.sandbox
    present = [t for t in SPEC_TYPES if sandbox.namespaces.get(t) is not None]
    inodes = "  ".join(f"{t}:[{sandbox.namespaces[t]}]" for t in present)
    if sandbox.process is SandboxProcess.PRESENT:
        holder = f"pid {sandbox.pid} ({sandbox.comm})"
    else:
        holder = f"no process ({sandbox.process})"
    fields = [
        ("Pod:", pod.name),
        ("Namespace:", dash(pod.namespace)),
        ("UID:", dash(pod.uid)),
        ("Node:", dash(report.node)),
        ("Runtime:", f"{pod.runtime} (decided by {pod.evidence})"),
        ("Sandbox:", f"{short_id(sandbox.id)}  {holder}  {inodes}".rstrip()),
    ]
    grouping = value_or(pod.grouping, None)
    if grouping is not None:  # a pod no runtime knows: on what evidence it was grouped
        fields.insert(5, ("Evidence:", grouping.text))
    return [f"{label:<11}{value}" for label, value in fields]


def render_pod(report: PodReport, wide: bool = False) -> None:
    lines = pod_header_lines(report)
    lines.append("")
    headers = ["CONTAINER", "PID", *[t.upper() for t in NS_TYPES]]
    if wide:
        headers.insert(1, "ID")
    rows = []
    for container in report.containers:
        row = [Cell(container.name)]
        if wide:
            row.append(Cell(short_id(container.id)))
        row.append(Cell(dash(container.pid)))
        row.extend(_verdict_cell(container.namespaces.get(t), wide) for t in NS_TYPES)
        rows.append(row)
    lines.extend(format_table(headers, rows))
    lines.append("")
    lines.extend(summarize(report))
    lines.extend(detail_lines(report))
    lines.extend(_finding_lines(report.findings))
    lines.extend(_error_lines(report.errors))
    if wide:
        lines.extend(process_fact_lines(report))
        host = report.host
        note = f" ({host.note})" if host.note else ""
        lines += ["", f"Host reference: pid {host.pid}, {host.kind}{note}"]
    echo_lines(lines)


def _finding_lines(findings: Sequence[FindingReport]) -> list[str]:
    if not findings:
        return []
    lines = ["", "Findings:"]
    for finding in findings:
        severity = click.style(
            f"{finding.severity.upper():<8}", fg=SEVERITY_COLOUR.get(finding.severity)
        )
        message = escape_controls(f"{finding.code}: {finding.message}")
        lines.append(EscapedLine(f"  {severity} {message}"))
    return lines


def _error_lines(errors: Sequence[ScanErrorReport]) -> list[str]:
    if not errors:
        return []
    lines = ["", "Could not read:"]
    for error in errors:
        where = value_or(error.path, "") or f"pid {value_or(error.pid, None)}"
        lines.append(f"  {where}: {error.reason} ({error.stage})")
    return lines


def _sharing_cell(report: PodReport, ns_type: str) -> str:
    """`2/2` containers in the sandbox's namespace of a type; `host` when that is the node's."""
    containers = report.containers
    if not containers:
        return "-"
    entries = [c.namespaces.get(ns_type) for c in containers]
    if all(e is not None and e.verdict is Verdict.HOST for e in entries):
        return "host"
    shared = sum(1 for e in entries if e is not None and e.shared_with_sandbox)
    return f"{shared}/{len(containers)}"


def render_pod_list(pod_list: PodList, wide: bool = False, headers: bool = True) -> None:
    """The pods, a row each (the caller says when there are none, on stderr, as kubectl).
    Without headers, the rows alone: no header line and no trailing notes."""
    headers_row = ["NAMESPACE", "NAME", "RUNTIME", "SANDBOX", "CONTAINERS", "NET", "IPC", "UTS"]
    headers_row += ["PID", "FINDINGS"]
    if wide:
        headers_row += ["NODE", "UID", "SANDBOX ID", "SOURCE", "NET NS"]
    rows = []
    for report in pod_list.items:
        pod, sandbox = report.pod, report.sandbox
        holder = str(sandbox.pid) if sandbox.process is SandboxProcess.PRESENT else sandbox.process
        row = [
            dash(pod.namespace),
            pod.name,
            str(pod.runtime),
            str(holder),
            str(len(report.containers)),
            *[_sharing_cell(report, t) for t in SPEC_TYPES],
            str(len(report.findings)),
        ]
        if wide:
            row += [
                dash(report.node),
                dash(pod.uid),
                short_id(sandbox.id),
                str(pod.evidence),
                dash(sandbox.namespaces.get("net")),
            ]
        rows.append([Cell(value) for value in row])
    lines = format_table(headers_row, rows)
    if not headers:
        echo_lines(lines[1:])
        return
    runtimes = runtime_lines(value_or(pod_list.runtimes, [])) if wide else []
    echo_lines([*lines, *runtimes])


def render_process(report: ProcessReport, wide: bool = False) -> None:
    member = report.member_of
    where = "not in any pod"
    if member:
        role = "sandbox" if member.role is Role.SANDBOX else f"container {member.container}"
        where = f"pod {member.pod}, {role}"
    lines = [f"PID {report.pid} ({report.comm}), parent {report.ppid}: {where}"]
    lines.extend(process_report_fact_lines(report))
    if wide:
        lines.extend(f"cgroup {path}" for path in report.cgroup)
    lines.append("")
    rows = []
    for ns_type, entry in report.namespaces.items():
        if entry.inode is None:
            rows.append([ns_type, "-", f"unknown ({value_or(entry.reason, 'unreadable')})"])
        else:
            rows.append([ns_type, str(entry.inode), "host" if entry.host else "not the host's"])
    lines.extend(format_table(["TYPE", "INODE", "WHERE"], rows))
    lines.extend(_error_lines(report.errors))
    echo_lines(lines)


def render_namespace(report: NamespaceReport, wide: bool = False) -> None:
    kind = "the node's" if report.host else "not the node's"
    lines = [f"{report.ns_type}:[{report.inode}] ({kind})"]
    if report.users:
        lines.append("Used by:")
        for user in report.users:
            role = "sandbox" if user.role is Role.SANDBOX else f"container {user.container}"
            lines.append(f"  pod {user.pod}, {role}")
    if report.pins:
        lines.append(f"Pinned at: {', '.join(report.pins)}")
    if report.orphan:
        lines.append("Orphan: no process is in it and no pod uses it (a leaked namespace?)")
    processes = report.processes
    lines.append(f"Processes: {len(processes)}")
    shown = processes if wide else processes[:20]
    lines.extend(f"  {p.pid:>8}  {p.comm}" for p in shown)
    if len(shown) < len(processes):
        lines.append(f"  ... {len(processes) - len(shown)} more (-o wide shows all)")
    echo_lines(lines)


def _evidence_text(evidence: dict[str, object]) -> str:
    """A finding's evidence in one cell: `key=value` pairs, lists joined by commas."""
    parts = []
    for key, value in evidence.items():
        shown = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}={shown}")
    return " ".join(parts) or "-"


def render_findings(finding_list: FindingList, wide: bool = False, headers: bool = True) -> None:
    """`nsinspect doctor`: one line per finding, worst first, and a count (the caller says
    when there are none). Wide adds the container, the namespace type, the node and the
    evidence; without headers, the rows alone."""
    items = finding_list.items
    columns = ["SEVERITY", "CODE", "POD"]
    if wide:
        columns += ["CONTAINER", "TYPE", "NODE", "EVIDENCE"]
    columns.append("MESSAGE")
    rows = []
    for finding in items:
        severity = Cell.coloured(finding.severity.upper(), SEVERITY_COLOUR.get(finding.severity))
        row = [severity, Cell(finding.code), Cell(dash(finding.pod))]
        if wide:
            node = value_or(finding.node, "") or finding_list.node
            row += [
                Cell(dash(finding.container)),
                Cell(dash(finding.ns_type)),
                Cell(dash(node)),
                Cell(_evidence_text(finding.evidence)),
            ]
        row.append(Cell(finding.message))
        rows.append(row)
    lines = format_table(columns, rows)
    if not headers:
        echo_lines(lines[1:])
        return
    counts: dict[Severity, int] = {}
    for finding in items:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    summary = ", ".join(f"{counts[s]} {s}" for s in Severity if s in counts)
    echo_lines([*lines, "", f"{len(items)} findings on node {finding_list.node}: {summary}."])


def no_findings_text(finding_list: FindingList) -> str:
    """What doctor says when it found nothing: never a clean answer from an incomplete check."""
    unseen = value_or(finding_list.errors, [])
    unreachable = value_or(finding_list.unreachable, {})
    if unseen or unreachable:
        return (
            f"No findings on node {finding_list.node} in what could be checked; "
            "not everything could be (see the warnings)."
        )
    return f"No findings on node {finding_list.node}: every pod shares what it should."
