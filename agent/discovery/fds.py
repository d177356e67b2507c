"""Namespaces pinned by open file descriptors of the container runtimes' own processes.

A process can keep a namespace alive by holding an fd to its nsfs file (`/proc/<pid>/ns/net`
opened, or a netns file kept open after the bind mount is gone). Reading every process's fd table
would cost one readlink per open file on the node, every scan, for a rare case; the processes that
do this on purpose are the runtimes (containerd and its shims, CRI-O, conmon, pinns, dockerd,
podman), and there are a handful of them. So only their fd tables are read: the pins that matter
for leaked pod namespaces, at the cost of a few dozen readlinks.

An fd opened through a bind mount (`open("/run/netns/cni-...")`) reads back as that path, not as
`net:[inode]`; such an fd is recognised by its device (nsfs), and its type is asked of the kernel
with the NS_GET_NSTYPE ioctl on a read-only open of the fd, which changes nothing.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping

from ..model import NS_TYPES, PinnedNamespace, Process, ScanError, ScanStage, errno_name
from .procfs import parse_ns_link

# comm (at most 15 characters) of the processes whose fds are read.
RUNTIME_COMMS = frozenset(
    {"containerd", "containerd-shim", "crio", "conmon", "pinns", "dockerd", "podman"}
)
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
NOT_FILES = ("socket:", "pipe:", "anon_inode:", "/dev/")


def read_fd_pins(
    proc_root: str, processes: Mapping[int, Process], errors: list[ScanError]
) -> list[PinnedNamespace]:
    """Namespaces the runtimes' processes hold open, as pins at `/proc/<pid>/fd/<n>`."""
    pins: list[PinnedNamespace] = []
    nsfs = _nsfs_device()
    for pid, process in processes.items():
        if process.comm in RUNTIME_COMMS:
            pins.extend(_process_pins(proc_root, pid, nsfs, errors))
    return pins


def _nsfs_device() -> int | None:
    """The device number of nsfs, the kernel's one filesystem of namespace files."""
    try:
        return os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return None


def _process_pins(
    proc_root: str, pid: int, nsfs: int | None, errors: list[ScanError]
) -> list[PinnedNamespace]:
    fd_dir = f"{proc_root}/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except FileNotFoundError:
        return []  # exited since the scan
    except OSError as exc:
        errors.append(ScanError(ScanStage.FDS, errno_name(exc), pid=pid, path=fd_dir))
        return []
    pins = []
    for fd in fds:
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue  # closed meanwhile
        found = _namespace_of(f"{fd_dir}/{fd}", target, nsfs)
        if found is not None:
            pins.append(PinnedNamespace(*found, f"/proc/{pid}/fd/{fd}", holder_pid=pid))
    return pins


def _namespace_of(fd_path: str, target: str, nsfs: int | None) -> tuple[str, int] | None:
    """(type, inode) of the namespace an fd holds, or None for any other file."""
    ns_type = target.split(":", 1)[0]
    if ns_type in NS_TYPES and target.endswith("]"):
        try:
            return ns_type, parse_ns_link(target)
        except ValueError:
            return None
    if nsfs is None or target.startswith(NOT_FILES) or not target.startswith("/"):
        return None
    try:
        stat = os.stat(fd_path)
        if stat.st_dev != nsfs:
            return None
        fd = os.open(fd_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            flag = fcntl.ioctl(fd, NS_GET_NSTYPE)
        finally:
            os.close(fd)
    except OSError:
        return None
    found_type = CLONE_FLAGS.get(flag)
    return (found_type, stat.st_ino) if found_type is not None else None
