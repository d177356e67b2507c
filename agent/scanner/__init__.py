"""The scanner's entry points: scan a node (`SnapshotBuilder`) and answer report questions about
the snapshot (`NodeReports`). The CLI and the daemon start here.

The names are imported on first use (PEP 562): the CLI imports this package for its
configuration (`ScanConfig`) on every command, `--help` included, and the scanner's modules
cost tens of milliseconds to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..namespace_contents.netlink_helper import NetlinkHelper
    from ..runtimes.registry import DEFAULT_CRI_SOCKETS, STATE_DIRS
    from .builder import SnapshotBuilder
    from .config import ScanConfig
    from .errors import ProcRootError
    from .reports import NodeReports

__all__ = [
    "DEFAULT_CRI_SOCKETS",
    "STATE_DIRS",
    "NetlinkHelper",
    "NodeReports",
    "ProcRootError",
    "ScanConfig",
    "SnapshotBuilder",
]

# name -> the module (relative to this package) it comes from
_FROM = {
    "DEFAULT_CRI_SOCKETS": "..runtimes.registry",
    "STATE_DIRS": "..runtimes.registry",
    # a single pod report's netlink reads, forked early (NodeReports.pod_report's `netlink`)
    "NetlinkHelper": "..namespace_contents.netlink_helper",
    "NodeReports": ".reports",
    "ProcRootError": ".errors",
    "ScanConfig": ".config",
    "SnapshotBuilder": ".builder",
}


def __getattr__(name: str) -> Any:
    module = _FROM.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
