"""Explain missing privileges from what a scan could not read."""

from __future__ import annotations

import os
from typing import Any

from nsinspect.agent.inside.capabilities import CAP_SYS_PTRACE, has_capability

DENIED = ("EACCES", "EPERM")


def denied_pids(errors: list[dict[str, Any]]) -> set[int]:
    return {e["pid"] for e in errors if e["stage"] == "ns" and e["reason"] in DENIED and "pid" in e}


def permission_hint(errors: list[dict[str, Any]]) -> str | None:
    """A hint when namespace links were unreadable for lack of privilege, else None."""
    denied = denied_pids(errors) - {1}  # pid 1 is unreadable even to root on some VMs
    if not denied:
        return None
    if os.geteuid() != 0 or not has_capability(CAP_SYS_PTRACE):
        return (
            f"the namespaces of {len(denied)} processes could not be read: reading another user's "
            "/proc/<pid>/ns needs CAP_SYS_PTRACE (run as root, or grant the capability)"
        )
    return f"the namespaces of {len(denied)} processes could not be read (permission denied)"
