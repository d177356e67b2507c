"""`nsinspect ns` without an argument: the node's pinned namespaces, and which of them leaked.

A pinned namespace (a bind mount such as `/run/netns/cni-...`, or a runtime's open fd) is either
a pod's (in use) or an orphan: no process is in it and no pod stands for it, the trace of a
sandbox that was torn down without its network. The list is short on any node, unlike the list
of every namespace (each container has its own mount and pid namespaces).
"""

from __future__ import annotations

from ..agent.report import NamespaceList
from .table import format_table
from .terminal_text import echo_lines


def render_pinned(document: NamespaceList, wide: bool = False, headers: bool = True) -> None:
    """The pinned namespaces, a row each (the caller says when there are none); without
    headers, the rows alone."""
    items = document.items
    rows = []
    for item in items:
        users = sorted({user.pod for user in item.users})
        state = "ORPHAN" if item.orphan else ", ".join(users) or f"{len(item.processes)} processes"
        pins = item.pins if wide else item.pins[:1]
        more = "" if wide or len(item.pins) == 1 else f" (+{len(item.pins) - 1})"
        rows.append([item.ns_type, str(item.inode), state, ", ".join(pins) + more])
    lines = format_table(["TYPE", "INODE", "USED BY", "PINNED AT"], rows)
    echo_lines(lines if headers else lines[1:])
    orphans = len({(orphan.ns_type, orphan.inode) for orphan in document.orphans})
    if orphans and headers:
        echo_lines(
            [
                "",
                f"{orphans} orphan namespace(s): pinned, but no process is in them and no pod "
                "uses them (a leaked CNI netns?). `nsinspect ns TYPE:INODE` shows one.",
            ]
        )
