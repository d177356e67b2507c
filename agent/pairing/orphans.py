"""Pinned namespaces that nothing uses: the trace of a sandbox torn down without its network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..model import PinnedNamespace, Pod, Process


def find_orphans(
    pins: Sequence[PinnedNamespace], processes: Mapping[int, Process], pods: Sequence[Pod]
) -> tuple[PinnedNamespace, ...]:
    """Pinned namespaces that no process is in and no pod's sandbox stands for, once each: a
    namespace pinned by a bind mount and an fd is one orphan, named by its first pin."""
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
    orphans: dict[tuple[str, int], PinnedNamespace] = {}
    for pin in pins:
        key = (pin.ns_type, pin.inode)
        if key not in in_use:
            orphans.setdefault(key, pin)
    return tuple(orphans.values())
