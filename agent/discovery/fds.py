"""Namespaces pinned by open file descriptors of the container runtimes' own processes.

A process can keep a namespace alive by holding an fd to its nsfs file (`/proc/<pid>/ns/net`
opened, or a netns file kept open after the bind mount is gone). Reading every process's fd table
would cost one readlink per open file on the node, every scan, for a rare case; the processes that
do this on purpose are the runtimes (containerd and its shims, CRI-O, conmon, pinns, dockerd,
podman), and there are a handful of them. So only their fd tables are read.

Everything here is read from processes that may be hostile:
- A runtime is told by its executable, never by its name (runtime_processes.runtime_exe).
- An fd is never opened in a way that can block or act on a device: a FIFO without a writer
  blocks a plain open for ever, and the holder can swap what an fd number points to at any moment.
  `readlink` names most nsfs fds outright (`net:[4026532177]`). One opened through a bind mount
  reads back as a path; it is opened with O_PATH (no open of the file itself, so never blocks),
  checked to be nsfs with fstat, and only then reopened through that O_PATH descriptor, which
  pins the inode, so nothing can be swapped in between, to ask its type with NS_GET_NSTYPE.
- The work is bounded: at most MAX_FDS_PER_PROCESS fds are looked at in one process and
  MAX_FDS_PER_SCAN in a scan. What was left unread is counted and reported, never concluded from.
- One namespace held by many fds is one pin: the first fd found stands for it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping

import msgspec

from ..model import NS_TYPES, PinnedNamespace, Process, ScanError, ScanStage, errno_name
from .procfs import parse_ns_link
from .runtime_processes import RUNTIME_COMMS, runtime_exe

# A runtime holds a few hundred to a few thousand fds on a busy node (sockets and stdio FIFOs,
# mostly); a shim a dozen. One fd costs ~6.5 us (a readlink), so the scan's bound keeps a
# runtime's table, however large, within ~55 ms of a scan.
MAX_FDS_PER_PROCESS = 4_096
MAX_FDS_PER_SCAN = 8_192
SECONDS_PER_FD = 6.5e-6  # measured on this project's 2-CPU test machine
NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3), linux/nsfs.h
CLONE_FLAGS = {
    0x40000000: "net",
    0x08000000: "ipc",
    0x04000000: "uts",
    0x20000000: "pid",
    0x00020000: "mnt",
    0x10000000: "user",
    0x02000000: "cgroup",
    0x00000080: "time",
}
NOT_FILES = ("socket:", "pipe:", "anon_inode:")


class FdPins(msgspec.Struct):
    pins: list[PinnedNamespace] = msgspec.field(default_factory=list)
    skipped: int = 0  # fds left unread by the bounds


def read_fd_pins(
    proc_root: str,
    processes: Mapping[int, Process],
    host_mnt: int | None,
    errors: list[ScanError],
) -> FdPins:
    """Namespaces the runtimes' processes hold open, as pins at `/proc/<pid>/fd/<n>`."""
    reader = _FdReader(proc_root, processes, errors)
    for pid, process in processes.items():
        if process.comm not in RUNTIME_COMMS:
            continue
        if host_mnt is None or process.namespaces.get("mnt") is None:
            # Whether it is a runtime, and so what its fds pin, cannot be told: unseen, and said.
            why = process.ns_errors.get("mnt", "the node's mount namespace is unknown")
            errors.append(ScanError(ScanStage.FDS, why, pid=pid, path=f"{proc_root}/{pid}/fd"))
        elif runtime_exe(proc_root, process, host_mnt):
            reader.read(pid)
    return reader.result


class _FdReader:
    def __init__(
        self, proc_root: str, processes: Mapping[int, Process], errors: list[ScanError]
    ) -> None:
        self.proc_root = proc_root
        self.processes = processes
        self.errors = errors
        self.result = FdPins()
        self.budget = MAX_FDS_PER_SCAN
        self.seen: set[tuple[str, int]] = set()
        self.nsfs = _nsfs_device()
        self._known_types: dict[int, str] | None = None

    def read(self, pid: int) -> None:
        fd_dir = f"{self.proc_root}/{pid}/fd"
        try:
            entries = os.scandir(fd_dir)
        except FileNotFoundError:
            return  # exited since the scan
        except OSError as exc:
            self.errors.append(ScanError(ScanStage.FDS, errno_name(exc), pid=pid, path=fd_dir))
            return
        limit = min(MAX_FDS_PER_PROCESS, self.budget)
        names: list[str] = []
        more = False
        with entries:
            for entry in entries:
                if len(names) == limit:
                    more = True  # listing the rest would cost as much as reading it
                    break
                names.append(entry.name)
        # In fd order, so the fd that stands for a namespace is the same from scan to scan.
        for name in sorted(names, key=lambda n: (len(n), n)):
            self._look_at(pid, fd_dir, name)
        looked = len(names)
        self.budget -= looked
        if more:
            skipped = _open_fds(fd_dir) - looked
            self.result.skipped += max(skipped, 1)
            of = f"of {looked + skipped}" if skipped > 0 else "and left the rest"
            self.errors.append(
                ScanError(
                    ScanStage.FDS, f"read {looked} fds {of} (bound reached)", pid=pid, path=fd_dir
                )
            )

    def _look_at(self, pid: int, fd_dir: str, fd: str) -> None:
        fd_path = f"{fd_dir}/{fd}"
        try:
            target = os.readlink(fd_path)
        except OSError:
            return  # closed meanwhile
        found = self._namespace_of(fd_path, target)
        if found is not None and found not in self.seen:
            self.seen.add(found)
            ns_type, inode = found
            path = f"/proc/{pid}/fd/{fd}"
            self.result.pins.append(PinnedNamespace(ns_type, inode, path, holder_pid=pid))

    def _namespace_of(self, fd_path: str, target: str) -> tuple[str, int] | None:
        """(type, inode) of the namespace an fd holds, or None for any other file."""
        ns_type = target.split(":", 1)[0]
        if ns_type in NS_TYPES and target.endswith("]"):
            try:
                return ns_type, parse_ns_link(target)
            except ValueError:
                return None
        if self.nsfs is None or target.startswith(NOT_FILES) or not target.startswith("/"):
            return None
        try:
            handle = os.open(fd_path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            found = os.fstat(handle)
            if found.st_dev != self.nsfs:
                return None
            known = self.known_types().get(found.st_ino)
            return (known, found.st_ino) if known else self._ask_type(handle, found.st_ino)
        finally:
            os.close(handle)

    def known_types(self) -> dict[int, str]:
        """inode -> type of every namespace a process is in: most fds held through a path
        name one of them, and need no ioctl. Built on first need, once a scan."""
        if self._known_types is None:
            self._known_types = {
                inode: ns_type
                for process in self.processes.values()
                for ns_type, inode in process.namespaces.items()
                if inode is not None
            }
        return self._known_types

    @staticmethod
    def _ask_type(handle: int, inode: int) -> tuple[str, int] | None:
        """The kernel's answer for an nsfs inode pinned by an O_PATH descriptor."""
        try:
            fd = os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            if os.fstat(fd).st_ino != inode:
                return None
            flag = fcntl.ioctl(fd, NS_GET_NSTYPE)
        except OSError:
            return None
        finally:
            os.close(fd)
        found_type = CLONE_FLAGS.get(flag)
        return (found_type, inode) if found_type is not None else None


def _open_fds(fd_dir: str) -> int:
    """How many fds a process has open: the size of its fd directory since Linux 6.2, else 0."""
    try:
        return os.stat(fd_dir).st_size
    except OSError:
        return 0


def _nsfs_device() -> int | None:
    """The device number of nsfs, the kernel's one filesystem of namespace files."""
    try:
        return os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return None
