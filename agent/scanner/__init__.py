"""The scanner's entry points: scan a node (`SnapshotBuilder`) and answer report questions about
the snapshot (`NodeReports`). The CLI and the daemon start here."""

from ..runtimes.registry import DEFAULT_CRI_SOCKETS, STATE_DIRS
from .builder import ProcRootError, ScanConfig, SnapshotBuilder
from .reports import NodeReports

__all__ = [
    "DEFAULT_CRI_SOCKETS",
    "STATE_DIRS",
    "NodeReports",
    "ProcRootError",
    "ScanConfig",
    "SnapshotBuilder",
]
