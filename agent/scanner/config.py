"""What a scan reads: where the node's /proc and / are, and where its runtimes are.

A module of its own, with nothing heavy imported, so that the CLI builds a configuration at
start-up without importing the scanner.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec


class ScanConfig(msgspec.Struct, frozen=True):
    proc_root: str = "/proc"
    host_root: str = "/"  # where the node's /run and /var/lib are: "/host" in a DaemonSet
    node_name: str = ""
    # CRI sockets (node paths), exactly these; None: those the runtimes' processes name and the
    # published layouts present on the node.
    cri_sockets: tuple[str, ...] | None = None
    # runtime -> its state directory (node path), exactly this; runtimes not named here are
    # found from their processes and layouts. See runtimes.STATE_DIRS.
    state_dirs: Mapping[str, str] = msgspec.field(default_factory=dict)
