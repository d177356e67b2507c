"""Pinned namespaces that nothing uses: the trace of a sandbox torn down without its network.

Only concluded from what was read: a pin of a type whose link some process's could not be read,
or pinned while some process could not be read at all, is not called an orphan (that process
could be in it); it is named as not checked, with why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..model import PinnedNamespace, Pod, Process, ScanError, ScanStage
from .unread import NOTHING_UNREAD, Unread, unreadable_links


def find_orphans(
    pins: Sequence[PinnedNamespace],
    processes: Mapping[int, Process],
    pods: Sequence[Pod],
    unread: Unread = NOTHING_UNREAD,
) -> tuple[tuple[PinnedNamespace, ...], tuple[ScanError, ...]]:
    """Pinned namespaces that no process is in and no pod's sandbox stands for, once each (a
    namespace pinned by a bind mount and an fd is one orphan, named by its first pin); and one
    FINDINGS error for each such pin that could not be checked."""
    # Only the pinned types are looked up (pins are mostly network namespaces), not every
    # namespace of every process.
    pinned_types = {pin.ns_type for pin in pins}
    in_use = {
        (ns_type, process.namespaces.get(ns_type))
        for process in processes.values()
        for ns_type in pinned_types
    }
    in_use |= {
        (ns_type, pod.sandbox.namespaces.get(ns_type)) for pod in pods for ns_type in pinned_types
    }
    blind = unreadable_links(processes, pinned_types)
    unused: dict[tuple[str, int], PinnedNamespace] = {}
    for pin in pins:
        key = (pin.ns_type, pin.inode)
        if key not in in_use:
            unused.setdefault(key, pin)
    orphans: list[PinnedNamespace] = []
    unchecked: list[ScanError] = []
    for pin in unused.values():
        why = blind.get(pin.ns_type) or (
            f"{unread.processes} processes could not be read" if unread.processes else ""
        )
        if why:
            reason = f"not checked for OrphanNamespace: {why}"
            unchecked.append(ScanError(ScanStage.FINDINGS, reason, path=pin.path))
        else:
            orphans.append(pin)
    return tuple(orphans), tuple(unchecked)
