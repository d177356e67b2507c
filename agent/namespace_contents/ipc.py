"""The pod's IPC namespace: how many SysV and POSIX IPC objects its containers share.

SysV objects are listed in `/proc/sysvipc/{shm,sem,msg}`, which show the reader's IPC namespace:
a child that joined it reads them (`nsread`). POSIX message queues live in the mqueue filesystem,
one instance per IPC namespace; nsinspect never mounts anything on a node, so it counts them only
where a container of the pod has that instance mounted (runtimes mount it at /dev/mqueue after
joining the pod's IPC namespace), through `/proc/<pid>/root`, and says "unknown" otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import msgspec

from ..discovery.mounts import MOUNTINFO_CAP, unescape_mount_path
from ..discovery.privileges import denied_reason
from ..model.bounded_read import read_capped
from .details import IpcDetails
from .nsread import InsideRead

SYSV = {
    "shm_segments": "/proc/sysvipc/shm",
    "semaphore_sets": "/proc/sysvipc/sem",
    "message_queues": "/proc/sysvipc/msg",
}
PATHS = tuple(SYSV.values())


class MqueueMount(msgspec.Struct, frozen=True):
    device: str  # major:minor: one mqueue instance, i.e. one IPC namespace
    mount_point: str


class PosixCount(msgspec.Struct, frozen=True):
    count: int | None
    source: str = ""  # the path that was listed
    reason: str = ""  # why count is None


def count_sysv(text: str) -> int:
    """Objects in a `/proc/sysvipc/*` table: its lines less the header."""
    return max(len([line for line in text.splitlines() if line.strip()]) - 1, 0)


def parse_mqueue_mounts(mountinfo: str) -> list[MqueueMount]:
    """The mqueue mounts of a `/proc/<pid>/mountinfo` (see proc(5) for the fields)."""
    mounts = []
    for line in mountinfo.splitlines():
        before, separator, after = line.partition(" - ")
        fields = before.split()
        if not separator or len(fields) < 5 or not after.startswith("mqueue "):
            continue
        mounts.append(MqueueMount(device=fields[2], mount_point=unescape_mount_path(fields[4])))
    return mounts


def _mqueue_mounts(proc_root: str, pid: int) -> list[MqueueMount]:
    mountinfo = read_capped(f"{proc_root}/{pid}/mountinfo", MOUNTINFO_CAP)
    return parse_mqueue_mounts(mountinfo.decode("utf-8", "replace"))


def count_posix_queues(
    proc_root: str, candidates: Sequence[int], host_pid: int, host_ipc: bool
) -> PosixCount:
    """Count the pod's POSIX queues in an mqueue mount that is the pod's own instance.

    `candidates`: pids known to be in the pod's IPC namespace, the sandbox first. A mount whose
    device is the node's mqueue instance shows the node's queues, not the pod's, unless the pod
    uses the node's IPC namespace (`host_ipc`).
    """
    try:
        host_devices = {m.device for m in _mqueue_mounts(proc_root, host_pid)}
    except OSError as exc:
        return PosixCount(None, reason=denied_reason(exc, "the node's mountinfo"))
    last_error = "no process of the pod has an mqueue filesystem mounted"
    for pid in candidates:
        try:
            mounts = _mqueue_mounts(proc_root, pid)
        except OSError as exc:
            last_error = denied_reason(exc, f"{proc_root}/{pid}/mountinfo")
            continue
        for mount in mounts:
            if (mount.device in host_devices) != host_ipc:
                last_error = "the only mqueue mounts visible are the node's, not the pod's"
                continue
            path = f"{proc_root}/{pid}/root{mount.mount_point}"
            try:
                return PosixCount(len(os.listdir(path)), source=path)
            except OSError as exc:
                last_error = denied_reason(exc, path)
    return PosixCount(None, reason=last_error)


def describe_ipc(
    read: InsideRead, ns_inode: int | None, members: tuple[str, ...], posix: PosixCount
) -> IpcDetails:
    counts: dict[str, int | None] = {}
    unavailable: dict[str, str] = {}
    for name, path in SYSV.items():
        if read.error or path not in read.files:
            counts[name] = None
            unavailable[name] = read.error or f"read {path}: {read.errors.get(path, 'missing')}"
        else:
            counts[name] = count_sysv(read.files[path])
    if posix.count is None:
        unavailable["posix_message_queues"] = posix.reason
    return IpcDetails(
        ns_inode=ns_inode,
        shm_segments=counts["shm_segments"],
        semaphore_sets=counts["semaphore_sets"],
        message_queues=counts["message_queues"],
        posix_message_queues=posix.count,
        posix_source=posix.source,
        members=members,
        unavailable=unavailable,
    )
