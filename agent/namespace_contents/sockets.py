"""Listening sockets of a network namespace, and the container and process that own each.

The socket tables come from `/proc/<pid>/net/{tcp,tcp6,udp,udp6}` of any process in the
namespace: they describe the namespace, not the process, and need no entering. Owners are found
by socket inode among the `/proc/<pid>/fd` links, first of the pod's own processes, then of the
other processes in the same namespace (another pod sharing it, or the host for hostNetwork).
Reading another process's fd links needs CAP_SYS_PTRACE; without it the sockets are still listed,
their owners "unknown" with the reason.

Direct reads, not psutil: psutil's proc root is a module global (`PROCFS_PATH`), unsafe to switch
per call in a threaded agent, and its per-process connection lookup re-reads the socket tables for
every process; reading the fd links once is all the matching needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import msgspec

from ..model import errno_name
from ..model.bounded_read import read_capped
from .details import Listening, Owner
from .procnet import NET_TABLE_CAP, decode_address

# file under /proc/<pid>/net, family, protocol
TABLES = (
    ("tcp", "ipv4", "tcp"),
    ("tcp6", "ipv6", "tcp"),
    ("udp", "ipv4", "udp"),
    ("udp6", "ipv6", "udp"),
)
TCP_LISTEN = 0x0A
UDP_UNCONNECTED = 0x07  # TCP_CLOSE: a bound UDP socket with no peer, as `ss -lu` lists it


class SocketEntry(msgspec.Struct, frozen=True):
    protocol: str
    family: str
    address: str
    port: int
    state: int
    remote_port: int
    inode: int


class PodProcess(msgspec.Struct, frozen=True):
    """A process the owner search may credit: who it is, in words the report uses."""

    pid: int
    kind: str  # container, sandbox, other-pod, host, outside
    container: str = ""
    pod: str = ""
    process: str = ""


def parse_socket_table(text: str, protocol: str, family: str) -> list[SocketEntry]:
    """The rows of one `/proc/net/{tcp,udp}[6]` table; malformed rows are skipped."""
    entries = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        try:
            local, local_port = fields[1].split(":")
            remote_port = int(fields[2].split(":")[1], 16)
            entries.append(
                SocketEntry(
                    protocol=protocol,
                    family=family,
                    address=decode_address(local, family),
                    port=int(local_port, 16),
                    state=int(fields[3], 16),
                    remote_port=remote_port,
                    inode=int(fields[9]),
                )
            )
        except (IndexError, ValueError):
            continue
    return entries


def is_listening(entry: SocketEntry) -> bool:
    if entry.protocol == "tcp":
        return entry.state == TCP_LISTEN
    return entry.state == UDP_UNCONNECTED and entry.remote_port == 0


def read_listening(proc_root: str, pid: int) -> tuple[list[SocketEntry], dict[str, str]]:
    """Listening sockets of the namespace `pid` is in; unreadable tables as path -> errno."""
    found: list[SocketEntry] = []
    errors: dict[str, str] = {}
    for table, family, protocol in TABLES:
        path = f"{proc_root}/{pid}/net/{table}"
        try:
            text = read_capped(path, NET_TABLE_CAP).decode("ascii", "replace")
        except FileNotFoundError:
            continue  # no IPv6 in this kernel
        except OSError as exc:
            errors[path] = errno_name(exc)
            continue
        found.extend(e for e in parse_socket_table(text, protocol, family) if is_listening(e))
    # A socket bound twice (SO_REUSEPORT workers) shows once per socket; keep each inode once.
    unique = {entry.inode: entry for entry in found if entry.inode}
    return sorted(unique.values(), key=lambda e: (e.port, e.protocol, e.family)), errors


def socket_inodes(proc_root: str, pid: int) -> set[int]:
    """The socket inodes `pid` holds open. Raises OSError when its fds cannot be read."""
    base = f"{proc_root}/{pid}/fd"
    inodes = set()
    for name in os.listdir(base):
        try:
            target = os.readlink(f"{base}/{name}")
        except FileNotFoundError:
            continue  # closed meanwhile
        inode = target[8:-1]
        if target.startswith("socket:[") and inode.isascii() and inode.isdigit():
            inodes.add(int(inode))
    return inodes


def find_owners(
    proc_root: str, wanted: set[int], groups: Iterable[Iterable[PodProcess]]
) -> tuple[dict[int, PodProcess], dict[int, str]]:
    """inode -> the first process holding it, searching group by group until all are found.

    Groups are ordered by preference (the pod's processes, then the rest of the namespace) and
    consumed lazily, so a pod whose own processes hold every socket costs no wider search.
    Returns the owners and, per pid whose fds could not be read, the errno name.
    """
    owners: dict[int, PodProcess] = {}
    unreadable: dict[int, str] = {}
    for group in groups:
        for candidate in group:
            if not wanted - owners.keys():
                return owners, unreadable
            try:
                held = socket_inodes(proc_root, candidate.pid)
            except OSError as exc:
                unreadable[candidate.pid] = errno_name(exc)
                continue
            for inode in held & (wanted - owners.keys()):
                owners[inode] = candidate
    return owners, unreadable


def missing_owner_reason(unreadable: Mapping[int, str], ptrace_held: bool) -> str:
    """Why a socket has no owner: unreadable fd links, or no process holding it at all."""
    if not unreadable:
        return "no process in this network namespace holds it"
    reasons = ", ".join(sorted(set(unreadable.values())))
    count = f"{len(unreadable)} process{'es' if len(unreadable) > 1 else ''}"
    reason = f"the fd links of {count} were unreadable ({reasons})"
    denied = any(r in ("EACCES", "EPERM") for r in unreadable.values())
    return reason + ("; reading them needs CAP_SYS_PTRACE" if denied and not ptrace_held else "")


def attach_owners(
    entries: list[SocketEntry], owners: Mapping[int, PodProcess], missing: str
) -> tuple[Listening, ...]:
    """Listening records: each socket with its owner, or `missing` as the reason there is none."""
    records = []
    for entry in entries:
        holder = owners.get(entry.inode)
        owner = (
            Owner(kind="unknown", reason=missing)
            if holder is None
            else Owner(
                kind=holder.kind,
                container=holder.container,
                pod=holder.pod,
                pid=holder.pid,
                process=holder.process,
            )
        )
        records.append(
            Listening(entry.protocol, entry.family, entry.address, entry.port, entry.inode, owner)
        )
    return tuple(records)
