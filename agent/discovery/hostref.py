"""Choose the namespaces that count as the node's own."""

from __future__ import annotations

from collections.abc import Mapping

from ..model import HostReference, HostReferenceKind, Process
from .procfs import KTHREADD_PID, ProcScanner


def choose_host_reference(scanner: ProcScanner, processes: Mapping[int, Process]) -> HostReference:
    """pid 1's namespaces; else kthreadd's; else the scanner's own.

    pid 1 is the design's reference, but some VMs' init cannot be read even by root. kthreadd
    (pid 2) is a kernel thread and so lives in the initial namespaces of every type, which makes it
    a better fallback than the scanner itself: inside a DaemonSet the scanner has its own mount
    (and maybe network) namespace.
    """
    init = processes.get(1)
    if init is not None and not init.ns_errors and init.namespaces:
        return HostReference(HostReferenceKind.PID1, 1, dict(init.namespaces))
    if init is None:
        why = "pid 1 is not visible under the proc root"
    else:
        why = (
            f"pid 1's namespaces are unreadable ({', '.join(sorted(set(init.ns_errors.values())))})"
        )
    kthreadd = scanner.kthreadd_namespaces()
    if kthreadd is not None:
        return HostReference(
            HostReferenceKind.KTHREADD, KTHREADD_PID, kthreadd, note=f"{why}; used kthreadd"
        )
    own = scanner.self_namespaces()
    if own is not None:
        pid, namespaces = own
        return HostReference(
            HostReferenceKind.SELF, pid, namespaces, note=f"{why}; used the scanner's own"
        )
    return HostReference(
        HostReferenceKind.NONE, 0, {}, note=f"{why}; no host reference could be read"
    )
