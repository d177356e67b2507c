"""The families with a few series per node: findings, orphans and the scan's own figures.
Written anew for every snapshot, one small generator each."""

from __future__ import annotations

from collections import Counter

from ..model import Snapshot
from .text_format import GaugeFamily


def pod_finding(snapshot: Snapshot) -> GaugeFamily:
    family = GaugeFamily(
        "nsinspect_pod_finding",
        "1 per open finding (see `nsinspect doctor`).",
        ["namespace", "pod", "code", "severity"],
    )
    seen: set[tuple[str, str, str, str]] = set()
    for finding in snapshot.findings:
        pod = finding.pod
        labels = (
            pod.namespace if pod else "",
            pod.name if pod else "",
            finding.code,
            str(finding.severity),
        )
        if labels not in seen:
            seen.add(labels)
            family.add(labels, 1)
    return family


def orphan_namespaces(snapshot: Snapshot) -> GaugeFamily:
    family = GaugeFamily(
        "nsinspect_orphan_namespaces",
        "Pinned namespaces that no process is in and no pod uses.",
        ["ns_type"],
    )
    for ns_type, count in sorted(Counter(pin.ns_type for pin in snapshot.orphans).items()):
        family.add([ns_type], count)
    return family


def _scalar(name: str, help_text: str, value: float) -> GaugeFamily:
    family = GaugeFamily(name, help_text)
    family.add([], value)
    return family


def last_scan_timestamp(snapshot: Snapshot) -> GaugeFamily:
    return _scalar(
        "nsinspect_last_scan_timestamp_seconds",
        "When the latest snapshot was taken.",
        snapshot.taken_at,
    )


def processes(snapshot: Snapshot) -> GaugeFamily:
    return _scalar(
        "nsinspect_processes", "Processes seen by the latest scan.", len(snapshot.processes)
    )


def zombies(snapshot: Snapshot) -> GaugeFamily:
    return _scalar(
        "nsinspect_zombie_processes",
        "Exited processes not yet reaped, seen by the latest scan.",
        snapshot.zombies,
    )


def fds_skipped(snapshot: Snapshot) -> GaugeFamily:
    return _scalar(
        "nsinspect_fds_skipped",
        "Runtime file descriptors the latest scan left unread: its bounds on fds per process and "
        "per scan were reached, so pins held by them may be missing.",
        snapshot.fds_skipped,
    )


def runtime_up(snapshot: Snapshot) -> GaugeFamily:
    family = GaugeFamily(
        "nsinspect_runtime_up",
        "1 when the runtime could be read by the latest scan: `cri:<socket>` for a CRI socket, "
        "the runtime's name for its state on disk (1 when any of its state directories was).",
        ["runtime"],
    )
    for label, readable in sorted(snapshot.runtimes_read.items()):
        family.add([label], 1 if readable else 0)
    return family


def runtime_location(snapshot: Snapshot) -> GaugeFamily:
    family = GaugeFamily(
        "nsinspect_runtime_location_info",
        "Where the latest scan looked for each runtime and how it found the place (flag, "
        "process, layout, default); 1 per place.",
        ["runtime", "what", "path", "found_by"],
    )
    for location in snapshot.runtimes:
        family.add(
            [
                str(location.runtime),
                str(location.kind),
                location.shown_path,
                str(location.found_by),
            ],
            1,
        )
    return family


NODE_FAMILIES = (
    pod_finding,
    orphan_namespaces,
    last_scan_timestamp,
    processes,
    zombies,
    fds_skipped,
    runtime_up,
    runtime_location,
)
