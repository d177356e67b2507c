"""Tables for people, drawn from the `nsinspect/v1` documents (local and remote alike).

Plain, kubectl-like columns: they read well in a terminal and still grep and awk cleanly when
piped. Colour is added only on a terminal (click.echo drops it elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from nsinspect.cli.details import detail_lines
from nsinspect.cli.summary import summarize
from nsinspect.cli.table import Cell, format_table

TABLE_TYPES = ("net", "ipc", "uts", "pid", "mnt", "user", "cgroup", "time")
VERDICT_COLOUR = {"pod": "green", "host": "yellow", "other": "red", "unknown": "magenta"}
SEVERITY_COLOUR = {"critical": "red", "warning": "yellow"}


def echo_lines(lines: Sequence[str]) -> None:
    click.echo("\n".join(lines))


def _dash(value: object) -> str:
    return "-" if value in ("", None) else str(value)


def _short_id(container_id: str) -> str:
    return container_id[:12] if container_id else "-"


def _verdict_cell(entry: dict[str, Any] | None, wide: bool) -> Cell:
    if entry is None:
        return Cell("-")
    verdict = entry["verdict"]
    label = f"other:{entry.get('other_pod', '?')}" if verdict == "other" else verdict
    if wide:
        detail = entry["inode"] if entry["inode"] is not None else entry.get("reason", "")
        label = f"{label}:{detail}"
    return Cell.coloured(label, VERDICT_COLOUR.get(verdict))


def pod_header_lines(report: dict[str, Any]) -> list[str]:
    pod, sandbox = report["pod"], report["sandbox"]
    present = [t for t in ("net", "ipc", "uts", "pid") if sandbox["namespaces"].get(t) is not None]
    inodes = "  ".join(f"{t}:[{sandbox['namespaces'][t]}]" for t in present)
    if sandbox["process"] == "present":
        holder = f"pid {sandbox['pid']} ({sandbox['comm']})"
    else:
        holder = f"no process ({sandbox['process']})"
    fields = [
        ("Pod:", pod["name"]),
        ("Namespace:", _dash(pod["namespace"])),
        ("UID:", _dash(pod["uid"])),
        ("Node:", _dash(report.get("node"))),
        ("Runtime:", f"{pod['runtime']} (decided by {pod['source']})"),
        ("Sandbox:", f"{_short_id(sandbox['id'])}  {holder}  {inodes}".rstrip()),
    ]
    return [f"{label:<11}{value}" for label, value in fields]


def render_pod(report: dict[str, Any], wide: bool = False) -> None:
    lines = pod_header_lines(report)
    lines.append("")
    headers = ["CONTAINER", "PID", *[t.upper() for t in TABLE_TYPES]]
    if wide:
        headers.insert(1, "ID")
    rows = []
    for container in report["containers"]:
        row = [Cell(container["name"])]
        if wide:
            row.append(Cell(_short_id(container["id"])))
        row.append(Cell(_dash(container["pid"])))
        row.extend(_verdict_cell(container["namespaces"].get(t), wide) for t in TABLE_TYPES)
        rows.append(row)
    lines.extend(format_table(headers, rows))
    lines.append("")
    lines.extend(summarize(report))
    lines.extend(detail_lines(report))
    lines.extend(_finding_lines(report.get("findings", [])))
    lines.extend(_error_lines(report.get("errors", [])))
    host = report.get("host", {})
    if wide and host:
        note = f" ({host['note']})" if host.get("note") else ""
        lines.append(f"\nHost reference: pid {host['pid']}, {host['source']}{note}")
    echo_lines(lines)


def _finding_lines(findings: list[dict[str, Any]]) -> list[str]:
    if not findings:
        return []
    lines = ["", "Findings:"]
    for finding in findings:
        severity = click.style(
            f"{finding['severity'].upper():<8}", fg=SEVERITY_COLOUR.get(finding["severity"])
        )
        lines.append(f"  {severity} {finding['code']}: {finding['message']}")
    return lines


def _error_lines(errors: list[dict[str, Any]]) -> list[str]:
    if not errors:
        return []
    lines = ["", "Could not read:"]
    for error in errors:
        where = error.get("path") or f"pid {error.get('pid')}"
        lines.append(f"  {where}: {error['reason']} ({error['stage']})")
    return lines


def _sharing_cell(report: dict[str, Any], ns_type: str) -> str:
    """`2/2` containers in the sandbox's namespace of a type; `host` when that is the node's."""
    containers = report["containers"]
    if not containers:
        return "-"
    verdicts = [c["namespaces"].get(ns_type, {}) for c in containers]
    if all(v.get("verdict") == "host" for v in verdicts):
        return "host"
    shared = sum(1 for v in verdicts if v.get("shared_with_sandbox"))
    return f"{shared}/{len(containers)}"


def render_pod_list(pod_list: dict[str, Any], wide: bool = False) -> None:
    if not pod_list["items"]:
        click.echo("No pods found.")
        return
    headers = ["NAMESPACE", "NAME", "RUNTIME", "SANDBOX", "CONTAINERS", "NET", "IPC", "UTS", "PID"]
    headers.append("FINDINGS")
    if wide:
        headers += ["NODE", "UID", "SANDBOX ID", "SOURCE", "NET NS"]
    rows = []
    for report in pod_list["items"]:
        pod, sandbox = report["pod"], report["sandbox"]
        holder = str(sandbox["pid"]) if sandbox["process"] == "present" else sandbox["process"]
        row = [
            _dash(pod["namespace"]),
            pod["name"],
            pod["runtime"],
            holder,
            str(len(report["containers"])),
            *[_sharing_cell(report, t) for t in ("net", "ipc", "uts", "pid")],
            str(len(report.get("findings", []))),
        ]
        if wide:
            row += [
                _dash(report.get("node")),
                _dash(pod["uid"]),
                _short_id(sandbox["id"]),
                pod["source"],
                _dash(sandbox["namespaces"].get("net")),
            ]
        rows.append([Cell(value) for value in row])
    echo_lines(format_table(headers, rows))


def render_process(report: dict[str, Any], wide: bool = False) -> None:
    member = report.get("member_of")
    where = "not in any pod"
    if member:
        role = "sandbox" if member["role"] == "sandbox" else f"container {member['container']}"
        where = f"pod {member['pod']}, {role}"
    lines = [f"PID {report['pid']} ({report['comm']}), parent {report['ppid']}: {where}"]
    if wide:
        lines.extend(f"cgroup {path}" for path in report.get("cgroup", []))
    lines.append("")
    rows = []
    for ns_type, entry in report["namespaces"].items():
        if entry["inode"] is None:
            rows.append([ns_type, "-", f"unknown ({entry.get('reason', 'unreadable')})"])
        else:
            rows.append(
                [ns_type, str(entry["inode"]), "host" if entry["host"] else "not the host's"]
            )
    lines.extend(format_table(["TYPE", "INODE", "WHERE"], rows))
    lines.extend(_error_lines(report.get("errors", [])))
    echo_lines(lines)


def render_namespace(report: dict[str, Any], wide: bool = False) -> None:
    kind = "the node's" if report["host"] else "not the node's"
    lines = [f"{report['type']}:[{report['inode']}] ({kind})"]
    if report["users"]:
        lines.append("Used by:")
        for user in report["users"]:
            role = "sandbox" if user["role"] == "sandbox" else f"container {user['container']}"
            lines.append(f"  pod {user['pod']}, {role}")
    if report["pins"]:
        lines.append(f"Pinned at: {', '.join(report['pins'])}")
    if report["orphan"]:
        lines.append("Orphan: no process is in it and no pod uses it (a leaked namespace?)")
    processes = report["processes"]
    lines.append(f"Processes: {len(processes)}")
    shown = processes if wide else processes[:20]
    lines.extend(f"  {p['pid']:>8}  {p['comm']}" for p in shown)
    if len(shown) < len(processes):
        lines.append(f"  ... {len(processes) - len(shown)} more (-o wide shows all)")
    echo_lines(lines)


def render_findings(finding_list: dict[str, Any]) -> None:
    """`nsinspect doctor`: one line per finding, worst first, and a count."""
    items = finding_list["items"]
    if not items:
        click.echo(f"No findings on node {finding_list['node']}: every pod shares what it should.")
        return
    rows = []
    for finding in items:
        severity = Cell.coloured(
            finding["severity"].upper(), SEVERITY_COLOUR.get(finding["severity"])
        )
        rows.append(
            [severity, Cell(finding["code"]), Cell(_dash(finding["pod"])), Cell(finding["message"])]
        )
    lines = format_table(["SEVERITY", "CODE", "POD", "MESSAGE"], rows)
    counts: dict[str, int] = {}
    for finding in items:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    summary = ", ".join(f"{counts[s]} {s}" for s in ("critical", "warning", "info") if s in counts)
    lines += ["", f"{len(items)} findings on node {finding_list['node']}: {summary}."]
    echo_lines(lines)
