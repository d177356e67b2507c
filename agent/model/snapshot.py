"""What one scan of a node finds: processes, the host reference, pins, pods, errors."""

from __future__ import annotations

import errno
from collections.abc import Mapping

import msgspec

from .pods import Finding, Pod
from .vocabulary import FoundBy, HostReferenceKind, LocationKind, Runtime, ScanStage


class Process(msgspec.Struct, frozen=True):
    pid: int
    ppid: int
    comm: str
    start_time: int  # clock ticks after boot, from /proc/<pid>/stat: tells pid reuse apart
    cgroup_paths: tuple[str, ...]  # distinct paths over all hierarchies, unified first
    namespaces: Mapping[str, int | None]  # type -> inode; None where the link was unreadable
    ns_errors: Mapping[str, str] = msgspec.field(default_factory=dict)  # type -> errno name


def errno_name(exc: OSError) -> str:
    """`EACCES` for a permission error: the short reason scan errors and verdicts carry."""
    return errno.errorcode.get(exc.errno or 0, str(exc))


class ScanError(msgspec.Struct, frozen=True):
    """A problem met during a scan; recorded, never raised."""

    stage: ScanStage
    reason: str  # an errno name or a short phrase
    pid: int | None = None
    path: str | None = None

    @property
    def process_gone(self) -> bool:
        """Whether this says only that its process exited mid-scan: a /proc/<pid> file that is
        no longer there hides nothing."""
        return self.reason == "vanished" or (self.pid is not None and self.reason == "ENOENT")


class HostReference(msgspec.Struct, frozen=True):
    """The namespaces that count as the node's own."""

    kind: HostReferenceKind
    pid: int
    namespaces: Mapping[str, int | None]
    note: str = ""  # why the preferred reference was not used


class PinnedNamespace(msgspec.Struct, frozen=True):
    ns_type: str
    inode: int
    path: str  # the bind-mount target, or `/proc/<pid>/fd/<n>` for a held fd
    holder_pid: int | None = None  # for an fd pin: the process holding it


class RuntimeLocation(msgspec.Struct, frozen=True):
    """Where one runtime was looked for this scan, how that place was found, and whether it
    could be read."""

    runtime: Runtime  # `cri` for a flagged socket whose runtime nsinspect cannot tell
    kind: LocationKind
    path: str  # a node path
    found_by: FoundBy
    pid: int | None = None  # the runtime process it was read from (found_by `process`)
    exe: str = ""  # that process's executable's basename
    argument: str = ""  # which of its arguments said so (`-address`, `cwd`, `config state`)
    readable: bool = False  # read this scan
    reason: str = ""  # why not, when not readable

    @property
    def key(self) -> tuple[str, str, str]:
        """One entry per runtime, kind and path, however many processes named it."""
        return (self.runtime, self.kind, self.path)

    @property
    def shown_path(self) -> str:
        """The path as valid UTF-8 for documents and metrics: a byte that is not UTF-8 (kept as
        a lone surrogate by os.fsdecode) is written `\\xNN`."""
        return self.path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class Snapshot(msgspec.Struct, frozen=True):
    node: str
    taken_at: float  # unix seconds
    duration_seconds: float
    host: HostReference
    processes: Mapping[int, Process]
    pods: tuple[Pod, ...]
    pinned: tuple[PinnedNamespace, ...] = ()
    orphans: tuple[PinnedNamespace, ...] = ()
    findings: tuple[Finding, ...] = ()
    errors: tuple[ScanError, ...] = ()
    runtimes: tuple[RuntimeLocation, ...] = ()  # where each runtime was looked for, and how
    proc_root: str = "/proc"
    host_root: str = "/"  # where the node's / is (its /etc/passwd names the users of processes)
    zombies: int = 0  # exited, not yet reaped: in no namespace, so not among the processes
    fds_skipped: int = 0  # runtime fds left unread by the scan's bounds (discovery.fds)

    @property
    def runtimes_read(self) -> dict[str, bool]:
        """`cri:<socket>` for a CRI socket, the runtime's name for its state on disk -> whether
        this scan could read it (any one of the runtime's state directories, for the latter)."""
        read: dict[str, bool] = {}
        for location in self.runtimes:
            label = (
                f"cri:{location.shown_path}"
                if location.kind is LocationKind.CRI_SOCKET
                else str(location.runtime)
            )
            read[label] = read.get(label, False) or location.readable
        return read
