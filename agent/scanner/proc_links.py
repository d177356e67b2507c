"""Reading /proc for a targeted scan: one namespace link of every process, kept as the kernel
wrote it, and a process's comm; anything unreadable stops the targeted scan (the full scan then
says what it could not see)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping

from ..discovery.procfs import parse_ns_link
from ..model import Process

# A comm is at most 15 bytes and a newline; procfs files open without blocking all the same.
COMM_CAP = 64
COMM_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsettledError(Exception):
    """What was read cannot settle the pod's report: scan the whole node instead."""


class LinkReader:
    """One namespace link of every process, read once per type and kept as the kernel wrote
    it (`net:[4026531840]`): most are only compared, and parsing thousands costs more than
    reading them. A process gone meanwhile is left out; any other failure is UnsettledError
    (the full scan says what it was). The processes already read whole (pid 1, whose links a
    VM may refuse even to root, as a full scan finds too) give their links as read."""

    def __init__(self, proc_root: str, pids: Iterable[int], known: Mapping[int, Process]) -> None:
        self.proc_root = proc_root
        self.known = known
        self.pids = [pid for pid in pids if pid not in known]
        self._links: dict[str, dict[int, str]] = {}
        self._by_inode: dict[str, dict[str, list[int]]] = {}

    def holding(self, ns_type: str, inode: int) -> list[int]:
        """The pids in namespace `inode` of `ns_type`."""
        found = list(self._holders(ns_type).get(f":[{inode}]", ()))
        found += [p.pid for p in self.known.values() if p.namespaces.get(ns_type) == inode]
        return found

    def _holders(self, ns_type: str) -> dict[str, list[int]]:
        """`:[inode]` (the link without its type, which for pid_for_children reads `pid`) ->
        the pids whose link of `ns_type` ends so, in pid order: one pass per type, however
        many namespaces are asked about."""
        holders = self._by_inode.get(ns_type)
        if holders is None:
            holders = self._by_inode[ns_type] = {}
            for pid, link in self._read(ns_type).items():
                holders.setdefault(link[link.find(":") :], []).append(pid)
        return holders

    def inode(self, ns_type: str, pid: int) -> int | None:
        process = self.known.get(pid)
        if process is not None:
            return process.namespaces.get(ns_type)
        link = self._read(ns_type).get(pid)
        try:
            return None if link is None else parse_ns_link(link)
        except ValueError as exc:
            raise UnsettledError(f"{self.proc_root}/{pid}/ns/{ns_type}: {exc}") from exc

    def _read(self, ns_type: str) -> dict[int, str]:
        links = self._links.get(ns_type)
        if links is not None:
            return links
        links = {}
        root = self.proc_root
        for pid in self.pids:
            try:
                links[pid] = os.readlink(f"{root}/{pid}/ns/{ns_type}")
            except FileNotFoundError:
                # A process that exited, or a kernel without the type: no link for either.
                continue
            except OSError as exc:
                raise UnsettledError(f"{root}/{pid}/ns/{ns_type}: {exc}") from exc
        self._links[ns_type] = links
        return links


def read_comm(proc_root: str, pid: int) -> str:
    """A process's comm ("" once it exited): a runtime's is the first hint of one."""
    path = f"{proc_root}/{pid}/comm"
    try:
        handle = os.open(path, COMM_FLAGS)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise UnsettledError(f"{path}: {exc}") from exc
    try:
        return os.read(handle, COMM_CAP).decode("utf-8", "replace").removesuffix("\n")
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return ""
        raise UnsettledError(f"{path}: {exc}") from exc
    finally:
        os.close(handle)
