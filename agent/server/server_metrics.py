"""The metric lines the server renders at each scrape, after the scanner's exposition: what only
the moment of the scrape knows (the scan running now, its step, whether it is stuck, the age of
the last one) and the connections the server refused."""

from __future__ import annotations

from ..exchange.heartbeat import ScannerView
from .connections import Rejection


def server_lines(view: ScannerView | None, rejected: dict[Rejection, int]) -> bytes:
    lines: list[str] = []
    if view is not None:
        lines += _family(
            "nsinspect_scan_running_seconds",
            "How long the scan running now has run, by the step it is in; absent between scans.",
        )
        if view.running_seconds is not None:
            step = _label_value(view.step or "")
            lines.append(
                f'nsinspect_scan_running_seconds{{step="{step}"}} {view.running_seconds:.3f}'
            )
        lines += _family(
            "nsinspect_scan_stuck",
            "1 while a scan has run longer than the watchdog's limit (/healthz fails meanwhile).",
        )
        lines.append(f"nsinspect_scan_stuck {1 if view.stuck else 0}")
        if view.scan_age is not None:
            lines += _family(
                "nsinspect_scan_age_seconds", "Seconds since the scanner's last completed scan."
            )
            lines.append(f"nsinspect_scan_age_seconds {view.scan_age:.3f}")
    lines += _family(
        "nsinspect_server_rejected_connections_total",
        "Connections the server closed before answering, by why: too many from one client, "
        "headers over the cap, headers not complete in time, idle.",
        kind="counter",
    )
    for reason in Rejection:
        lines.append(
            f'nsinspect_server_rejected_connections_total{{reason="{reason.value}"}} '
            f"{rejected.get(reason, 0)}"
        )
    return ("\n".join(lines) + "\n").encode()


def _family(name: str, help_text: str, kind: str = "gauge") -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _label_value(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")
