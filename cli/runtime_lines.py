"""The `Runtimes:` section of `nsinspect pods -o wide`: where each runtime was looked for, how
that place was found, and whether the scan could read it."""

from __future__ import annotations

from collections.abc import Sequence

from ..agent.report import FoundBy, RuntimeLocationReport, value_or
from .table import Cell, format_table


def found_by_text(location: RuntimeLocationReport) -> str:
    """`flag`, `layout`, `default`, or the process: `containerd-shim-runc-v2 pid 812 -address`."""
    if location.found_by is not FoundBy.PROCESS:
        return str(location.found_by)
    pid = value_or(location.pid, None)
    parts = [value_or(location.exe, ""), "" if pid is None else f"pid {pid}"]
    parts.append(value_or(location.argument, ""))
    return " ".join(["process:", *(part for part in parts if part)])


def runtime_lines(runtimes: Sequence[RuntimeLocationReport]) -> list[str]:
    """The section, or nothing when the document says nothing of runtimes (a merged list)."""
    if not runtimes:
        return []
    rows = [
        [
            Cell(str(location.runtime)),
            Cell(str(location.what)),
            Cell(location.path),
            Cell(found_by_text(location)),
            Cell.coloured("read", "green")
            if location.readable
            else Cell.coloured(f"not read: {value_or(location.reason, '')}", "yellow"),
        ]
        for location in runtimes
    ]
    headers = ["RUNTIME", "WHAT", "PATH", "FOUND BY", "STATE"]
    return ["", "Runtimes:", *format_table(headers, rows, indent="  ")]
