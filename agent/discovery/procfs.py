"""Read every process's namespaces, cgroup and identity from a proc root.

The proc root is `/proc` on a node and `/host/proc` in a DaemonSet. Reading is the hot path of
every scan, so it stays close to the syscalls: one read of `stat`, one readlink per namespace
link. What cannot change while a process keeps its pid and start time (its cgroup) is cached
across scans; the namespace links are read every time, since setns(2) can move a process. A
process whose stat identity and links read exactly as in the previous scan is the same `Process`
object again: no parsing, no new objects, and later steps can tell that nothing changed.

Nothing here raises for a process: a process that exits mid-scan, an unreadable link or a
malformed file becomes a `ScanError` and the scan goes on. A zombie is counted, not an error: it
has already left its namespaces, so there is nothing of it to read and nothing was missed.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

import msgspec

from ..model import ALL_NS_TYPES, Process, ScanError, ScanStage, errno_name
from ..model.bounded_read import read_capped

# The ns_errors of every process whose links all read (nearly all): one shared empty mapping.
NO_NS_ERRORS: Mapping[str, str] = MappingProxyType({})
PF_KTHREAD = 0x00200000  # task flag of kernel threads (include/linux/sched.h)
KTHREADD_PID = 2
# What `read_process` returns for a zombie: not a process of the snapshot, and not an error.
ZOMBIE = Process(pid=0, ppid=0, comm="", start_time=0, cgroup_paths=(), namespaces={})
# A stat line is at most ~1,100 bytes (a 64-byte comm, 52 numbers).
STAT_CAP = 4096
# One line per hierarchy (a dozen on cgroup v1), each path at most PATH_MAX: the kernel fails
# the read rather than print a longer one.
CGROUP_CAP = 65536
# `<proc root>/stat` grows with CPUs and interrupts: ~100 KiB on a large machine.
PROC_STAT_CAP = 1 << 20


class StatLine(NamedTuple):
    """The fields of `/proc/<pid>/stat` a scan uses. A tuple, not a frozen dataclass: one is
    built per process per scan, and a frozen dataclass costs several times more to build."""

    pid: int
    comm: str
    state: str
    ppid: int
    flags: int
    start_time: int


class ProcScan(msgspec.Struct):
    processes: dict[int, Process] = msgspec.field(default_factory=dict)
    errors: list[ScanError] = msgspec.field(default_factory=list)
    zombies: int = 0


def parse_stat(text: str) -> StatLine:
    """Parse `/proc/<pid>/stat`. The comm may hold spaces and parentheses, so split at the last ')'.

    Raises ValueError for a malformed line.
    """
    open_paren = text.find("(")
    close_paren = text.rfind(")")
    # Fields after the comm start at field 3 (state); see proc(5). Only the first 20 are used,
    # so the other 30 are left unsplit.
    fields = text[close_paren + 2 :].split(maxsplit=20)
    if not 0 <= open_paren < close_paren or len(fields) < 20:
        raise ValueError("malformed stat line")
    return StatLine(
        int(text[:open_paren]),
        text[open_paren + 1 : close_paren],
        fields[0],
        int(fields[1]),
        int(fields[6]),
        int(fields[19]),
    )


def parse_cgroup(text: str) -> tuple[tuple[str, ...], list[str]]:
    """Distinct cgroup paths of `/proc/<pid>/cgroup`, the unified (`0::`) one first.

    Returns the paths and the malformed lines, which the caller records.
    """
    unified: list[str] = []
    legacy: list[str] = []
    malformed: list[str] = []
    for line in text.splitlines():
        if not line:
            continue
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[0].isdigit() or not parts[2].startswith("/"):
            malformed.append(line)
            continue
        target = unified if parts[0] == "0" and parts[1] == "" else legacy
        if parts[2] not in target:
            target.append(parts[2])
    paths = unified + [p for p in legacy if p not in unified]
    return tuple(paths), malformed


def parse_ns_link(target: str) -> int:
    """`net:[4026532177]` -> 4026532177. Raises ValueError for anything else."""
    start = target.find(":[")
    digits = target[start + 2 : -1]
    if start < 1 or not target.endswith("]") or not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"not a namespace link: {target[:80]!r}")
    return int(digits)


def _read_text(path: str, cap: int, dir_fd: int | None = None) -> str:
    return read_capped(path, cap, dir_fd).decode("utf-8", "replace")


def read_stat(path: str, dir_fd: int | None = None) -> StatLine:
    """`<pid dir>/stat`, read and parsed. Raises OSError, or ValueError for a malformed line."""
    return parse_stat(_read_text(path, STAT_CAP, dir_fd))


def read_namespaces(
    base: str, ns_types: tuple[str, ...]
) -> tuple[dict[str, int | None], dict[str, str]]:
    """Read the namespace links under `base` (`<proc root>/<pid>`).

    A type whose link does not exist is left out (the kernel does not have it); an unreadable one
    maps to None with the errno name in the second dict.
    """
    namespaces: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for ns_type in ns_types:
        try:
            namespaces[ns_type] = parse_ns_link(os.readlink(f"{base}/ns/{ns_type}"))
        except FileNotFoundError:
            continue
        except OSError as exc:
            namespaces[ns_type] = None
            errors[ns_type] = errno_name(exc)
        except ValueError:
            namespaces[ns_type] = None
            errors[ns_type] = "malformed link"
    return namespaces, errors


class ProcScanner:
    """Scans a proc root; keeps per-process facts that cannot change between scans."""

    def __init__(self, proc_root: str = "/proc") -> None:
        self.proc_root = proc_root.rstrip("/") or "/"
        self.ns_types = self._present_ns_types()
        self._ns_links = tuple(f"ns/{ns_type}" for ns_type in self.ns_types)
        # pid -> (start_time, cgroup paths): valid while the pid keeps its start time.
        self._cgroups: dict[int, tuple[int, tuple[str, ...]]] = {}
        # pid -> (its raw namespace links, the Process built from them) as the last scan saw it.
        self._previous: dict[int, tuple[tuple[str, ...], Process]] = {}
        # cgroup file text -> its parse, and link text -> inode, for the current scan only.
        self._parsed_cgroups: dict[str, tuple[tuple[str, ...], list[str]]] = {}
        self._inodes: dict[str, int] = {}

    def _present_ns_types(self) -> tuple[str, ...]:
        """The namespace types this kernel shows, in display order."""
        try:
            present = set(os.listdir(f"{self.proc_root}/self/ns"))
        except OSError:
            return ALL_NS_TYPES
        known = [t for t in ALL_NS_TYPES if t in present]
        return tuple(known + sorted(present - set(ALL_NS_TYPES)))

    def pids(self) -> list[int]:
        return [int(name) for name in os.listdir(self.proc_root) if name.isdecimal()]

    def scan(self) -> ProcScan:
        """Read every process. Raises OSError only when the proc root itself cannot be listed."""
        result = ProcScan()
        for pid in self.pids():
            process = self.read_process(pid, result.errors)
            if process is ZOMBIE:
                result.zombies += 1
            elif process is not None:
                result.processes[pid] = process
        for gone in self._cgroups.keys() - result.processes.keys():
            del self._cgroups[gone]
        for gone in self._previous.keys() - result.processes.keys():
            del self._previous[gone]
        self._parsed_cgroups.clear()
        self._inodes.clear()
        return result

    def read_process(self, pid: int, errors: list[ScanError]) -> Process | None:
        """One process, `ZOMBIE`, or None (with the reason appended to `errors`) when it cannot
        be read.

        Its files are read relative to one descriptor of its directory: each lookup is one path
        component instead of four, and all that is read comes from the same process even if the
        pid is reused meanwhile (the descriptor stays with the process that is gone).
        """
        base = f"{self.proc_root}/{pid}"
        try:
            pid_dir = os.open(base, os.O_PATH | os.O_DIRECTORY)
        except FileNotFoundError:
            errors.append(ScanError(ScanStage.STAT, "vanished", pid))
            return None
        except OSError as exc:
            errors.append(ScanError(ScanStage.STAT, errno_name(exc), pid))
            return None
        try:
            return self._read_process_at(pid, base, pid_dir, errors)
        finally:
            os.close(pid_dir)

    def _read_process_at(
        self, pid: int, base: str, pid_dir: int, errors: list[ScanError]
    ) -> Process | None:
        try:
            stat = read_stat("stat", pid_dir)
        except FileNotFoundError:
            errors.append(ScanError(ScanStage.STAT, "vanished", pid))
            return None
        except OSError as exc:
            errors.append(ScanError(ScanStage.STAT, errno_name(exc), pid))
            return None
        except ValueError:
            errors.append(ScanError(ScanStage.STAT, "malformed stat", pid, f"{base}/stat"))
            return None
        if stat.flags & PF_KTHREAD:
            return None
        if stat.state in ("Z", "X"):
            return ZOMBIE

        # The common case in one go: every link reads. Any error takes the careful path below,
        # which tells a vanished process from an unreadable or absent link.
        try:
            links = tuple([os.readlink(link, dir_fd=pid_dir) for link in self._ns_links])
        except OSError:
            links = ()
        namespaces: dict[str, int | None] | None = None
        ns_errors: Mapping[str, str] = NO_NS_ERRORS
        if links:
            known = self._unchanged(pid, stat, links)
            if known is not None:
                return known
            try:
                namespaces = {
                    t: self._inode(link) for t, link in zip(self.ns_types, links, strict=True)
                }
            except ValueError:
                links = ()
        if namespaces is None:
            namespaces, ns_errors = read_namespaces(base, self.ns_types)
            if not namespaces and not os.path.exists(base):
                errors.append(ScanError(ScanStage.NS, "vanished", pid))
                return None
            errors.extend(
                ScanError(ScanStage.NS, reason, pid, f"{base}/ns/{t}")
                for t, reason in ns_errors.items()
            )

        cgroup_paths = self._cgroup_paths(pid, stat.start_time, pid_dir, errors)
        process = Process(
            pid=pid,
            ppid=stat.ppid,
            comm=stat.comm,
            start_time=stat.start_time,
            cgroup_paths=cgroup_paths,
            namespaces=namespaces,
            ns_errors=ns_errors,
        )
        # Only a process read without any error is reused: errors are reported again each scan.
        # Interned, the links of thousands of processes share a few hundred strings.
        if links and self._cgroups.get(pid, (None,))[0] == stat.start_time:
            self._previous[pid] = (tuple(map(sys.intern, links)), process)
        return process

    def _inode(self, link: str) -> int:
        """Most links of a node name a few namespaces: each distinct text is parsed once, and
        processes in the same namespace share one int."""
        inode = self._inodes.get(link)
        if inode is None:
            inode = self._inodes[link] = parse_ns_link(link)
        return inode

    def _unchanged(self, pid: int, stat: StatLine, links: tuple[str, ...]) -> Process | None:
        """The previous scan's Process, when this one reads exactly as it did."""
        previous = self._previous.get(pid)
        if previous is None or previous[0] != links:
            return None
        known = previous[1]
        same = (known.start_time, known.ppid, known.comm) == (stat.start_time, stat.ppid, stat.comm)
        return known if same else None

    def _cgroup_paths(
        self, pid: int, start_time: int, pid_dir: int, errors: list[ScanError]
    ) -> tuple[str, ...]:
        cached = self._cgroups.get(pid)
        if cached is not None and cached[0] == start_time:
            return cached[1]
        try:
            text = _read_text("cgroup", CGROUP_CAP, pid_dir)
        except OSError as exc:
            errors.append(ScanError(ScanStage.CGROUP, errno_name(exc), pid))
            return ()
        # Most processes of a node share a handful of cgroups: parse each distinct text once.
        parsed = self._parsed_cgroups.get(text)
        if parsed is None:
            parsed = self._parsed_cgroups[text] = parse_cgroup(text)
        paths, malformed = parsed
        if malformed:
            # One error per file, however many of its lines are bad: the errors of a scan stay
            # bounded by the processes, whatever their files hold.
            more = f" and {len(malformed) - 1} more" if len(malformed) > 1 else ""
            reason = f"malformed line {malformed[0][:80]!r}{more}"
            errors.append(
                ScanError(ScanStage.CGROUP, reason, pid, f"{self.proc_root}/{pid}/cgroup")
            )
        self._cgroups[pid] = (start_time, paths)
        return paths

    def kthreadd_namespaces(self) -> dict[str, int | None] | None:
        """Namespaces of kthreadd (pid 2), which always lives in the node's initial namespaces."""
        base = f"{self.proc_root}/{KTHREADD_PID}"
        try:
            stat = read_stat(f"{base}/stat")
        except (OSError, ValueError):
            return None
        if stat.comm != "kthreadd" or stat.ppid != 0:
            return None
        namespaces, ns_errors = read_namespaces(base, self.ns_types)
        return None if ns_errors or not namespaces else namespaces

    def self_namespaces(self) -> tuple[int, dict[str, int | None]] | None:
        """The scanner's own pid and namespaces, as the proc root shows them."""
        try:
            pid = int(os.readlink(f"{self.proc_root}/self"))
        except (OSError, ValueError):
            return None
        namespaces, ns_errors = read_namespaces(f"{self.proc_root}/{pid}", self.ns_types)
        return None if ns_errors or not namespaces else (pid, namespaces)


def parse_boot_time(text: str) -> float | None:
    """Seconds since the epoch at boot, from the `btime` line of `<proc root>/stat`."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == "btime":
            try:
                seconds = float(fields[1])
            except ValueError:
                return None
            return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None


def boot_time(proc_root: str) -> float | None:
    try:
        return parse_boot_time(_read_text(f"{proc_root}/stat", PROC_STAT_CAP))
    except OSError:
        return None
