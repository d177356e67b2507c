"""The lines that show what the process table says of a pod's containers (`pod -o wide`) and of
one process (`pid`): user, threads, resident memory, CPU time and start time.

Top-level imports stay light (the report types are imported for type checking only): the CLI
imports this module for every command.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .table import dash, format_table

if TYPE_CHECKING:
    from ..agent.report import PodReport, ProcessFacts, ProcessReport

HEADERS = ("USER", "UID", "THREADS", "RSS", "CPU", "STARTED")
UNREAD = "(not read: the process is gone or its /proc entry is unreadable)"


def process_fact_lines(report: PodReport, now: float | None = None) -> list[str]:
    """A table of each container's main process: [] when the report carries none (a report
    from an agent of an older version, or a pod whose processes could not be read)."""
    from ..agent.report import value_or

    if not any(value_or(c.process, None) is not None for c in report.containers):
        return []
    now = time.time() if now is None else now
    rows = []
    for container in report.containers:
        facts = value_or(container.process, None)
        cells = fact_cells(facts, now) if facts is not None else ["-"] * len(HEADERS)
        rows.append([container.name, dash(container.pid), *cells])
    return ["", "Processes:", *format_table(["CONTAINER", "PID", *HEADERS], rows, indent="  ")]


def process_report_fact_lines(report: ProcessReport, now: float | None = None) -> list[str]:
    """One line of the process's facts, or a line saying they could not be read."""
    from ..agent.report import value_or

    facts = value_or(report.process, None)
    if facts is None:
        return [f"Process: {UNREAD}"]
    now = time.time() if now is None else now
    user, uid, threads, rss, cpu, started = fact_cells(facts, now)
    thread_count = f"{threads} thread{'' if facts.threads == 1 else 's'}"
    return [
        f"Process: user {user} (uid {uid}), {thread_count}, RSS {rss}, CPU {cpu}, started {started}"
    ]


def fact_cells(facts: ProcessFacts, now: float) -> list[str]:
    return [
        facts.user,
        str(facts.uid),
        str(facts.threads),
        binary_size(facts.rss_bytes),
        f"{facts.cpu_seconds:.2f}s",
        started(facts.started_at, now),
    ]


def binary_size(size: int) -> str:
    """Bytes in kubectl's quantity units (Ki, Mi, Gi), one decimal from Mi up."""
    if size < 1024:
        return f"{size}B"
    if size < 1024**2:
        return f"{size // 1024}Ki"
    if size < 1024**3:
        return f"{size / 1024**2:.1f}Mi"
    return f"{size / 1024**3:.1f}Gi"


def started(at: float, now: float) -> str:
    """The UTC start time and its age, as kubectl's AGE column writes ages (5m, 3h, 2d)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    return f"{stamp} ({age(now - at)} ago)"


def age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
