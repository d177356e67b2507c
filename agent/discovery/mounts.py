"""Namespaces pinned by bind mounts: nsfs entries in a mount table.

`ip netns add`, CNI plugins (`/run/netns/cni-...`) and CRI-O's pinns (`/var/run/{netns,ipcns,
utsns}/...`) keep a namespace alive after its last process by bind-mounting its nsfs file. The
mount table to read is the node's: that of the host reference process.

The table is read as bytes and only its nsfs lines are decoded: a mount point may hold any byte
but NUL, valid UTF-8 or not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..model import PinnedNamespace, ScanError, ScanStage, errno_name
from ..model.bounded_read import read_capped
from .procfs import parse_ns_link

# The kernel allows 100,000 mounts in a namespace (fs.mount-max), ~200 bytes a line; a node
# leaking mounts gets near that, a sound one has a few thousand. Past the cap the pins are missed
# for that scan, with the reason, rather than the agent's memory limit reached.
MOUNTINFO_CAP = 16 << 20
# The kernel escapes these four in mountinfo paths as octal (fs/proc_namespace.c).
_ESCAPED = re.compile(r"\\(040|011|012|134)")
# `<id> <parent> <dev> <root> <mount point> <options> [optional...] - nsfs <source> <options>`:
# the first ` - ` of a line ends its variable part (paths have their spaces escaped).
_NSFS = b" - nsfs "


def unescape_mount_path(field: str) -> str:
    """`/run/netns/a\\040b` -> `/run/netns/a b`."""
    if "\\" not in field:
        return field
    return _ESCAPED.sub(lambda escape: chr(int(escape[1], 8)), field)


def _nsfs_mounts(data: bytes) -> Iterator[bytes]:
    """The fields before ` - ` of each nsfs line: found by searching, not by splitting every line,
    since a node with thousands of mounts has a handful of pins."""
    at = data.find(_NSFS)
    while at >= 0:
        start = data.rfind(b"\n", 0, at) + 1
        if data.find(b" - ", start, at) < 0:
            yield data[start:at]
        at = data.find(_NSFS, at + 1)


def parse_mountinfo(data: bytes) -> tuple[list[PinnedNamespace], int]:
    """nsfs bind mounts in a `/proc/<pid>/mountinfo`, and how many nsfs lines were malformed."""
    pins: dict[str, PinnedNamespace] = {}
    malformed = 0
    for mount in _nsfs_mounts(data):
        fields = mount.split(b" ")
        root = fields[3].decode("ascii", "replace") if len(fields) >= 5 and fields[4] else ""
        try:
            inode = parse_ns_link(root)
        except ValueError:
            malformed += 1
            continue
        mount_point = unescape_mount_path(fields[4].decode("utf-8", "replace"))
        pins[mount_point] = PinnedNamespace(root.split(":", 1)[0], inode, mount_point)
    return list(pins.values()), malformed


def read_pins(proc_root: str, pid: int, errors: list[ScanError]) -> list[PinnedNamespace]:
    path = f"{proc_root}/{pid}/mountinfo"
    try:
        pins, malformed = parse_mountinfo(read_capped(path, MOUNTINFO_CAP))
    except OSError as exc:
        errors.append(ScanError(ScanStage.MOUNTS, errno_name(exc), pid=pid, path=path))
        return []
    if malformed:
        reason = f"{malformed} malformed nsfs line{'s' if malformed > 1 else ''}"
        errors.append(ScanError(ScanStage.MOUNTS, reason, pid=pid, path=path))
    return pins
