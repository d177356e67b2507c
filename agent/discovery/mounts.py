"""Namespaces pinned by bind mounts: nsfs entries in a mount table.

`ip netns add`, CNI plugins (`/run/netns/cni-...`) and CRI-O's pinns (`/var/run/{netns,ipcns,
utsns}/...`) keep a namespace alive after its last process by bind-mounting its nsfs file. The
mount table to read is the node's: that of the host reference process.
"""

from __future__ import annotations

from ..model import PinnedNamespace, ScanError, ScanStage, errno_name
from .procfs import parse_ns_link


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (`\\040`)."""
    if "\\" not in field:
        return field
    return field.encode("latin-1").decode("unicode_escape").encode("latin-1").decode("utf-8")


def parse_mountinfo(text: str) -> list[PinnedNamespace]:
    """nsfs bind mounts in a `/proc/<pid>/mountinfo` text."""
    pins: dict[str, PinnedNamespace] = {}
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep or not right.startswith("nsfs "):
            continue
        fields = left.split(" ")
        if len(fields) < 5:
            continue
        root, mount_point = fields[3], _unescape(fields[4])
        ns_type = root.split(":", 1)[0]
        try:
            inode = parse_ns_link(root)
        except ValueError:
            continue
        pins[mount_point] = PinnedNamespace(ns_type=ns_type, inode=inode, path=mount_point)
    return list(pins.values())


def read_pins(proc_root: str, pid: int, errors: list[ScanError]) -> list[PinnedNamespace]:
    path = f"{proc_root}/{pid}/mountinfo"
    try:
        with open(path, encoding="utf-8", errors="replace") as mountinfo:
            return parse_mountinfo(mountinfo.read())
    except OSError as exc:
        errors.append(ScanError(ScanStage.MOUNTS, errno_name(exc), pid=pid, path=path))
        return []
