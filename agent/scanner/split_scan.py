"""A cold scan of every process on two cores: a forked child reads part of the pids meanwhile.

Reading /proc is most of a cold `nsinspect pods` (about 70 us a process: its stat, ten
namespace links and its cgroup, one system call each or more), and the CLI has one scan to do
and nothing else to do meanwhile. So the child reads two places in every five of the pid list
with its copy of the scanner while the parent reads the rest, and sends its processes and
errors back; the parent puts them in the pid list's order, as one scan would have. The same reads by
the same code: only which process does them differs. When the child cannot be forked, dies or
does not answer, the parent reads its share too.

For the CLI's first scan only (SnapshotBuilder's `split_first_scan`): a later scan reuses what
the scanner kept of the last one, which the child's reads do not leave in the parent, and the
agent, which has threads, never forks this way. CPU time is not saved, only wall-clock time
where a second core is free.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterable, Mapping

from ..discovery.procfs import NO_NS_ERRORS, ZOMBIE, ProcScan, ProcScanner
from ..model import Process, ScanError
from ..model.pipe_messages import receive_message, send_message

# Reading a few thousand processes takes a fraction of a second; this is for a child stuck.
CHILD_TIMEOUT_SECONDS = 30.0
# The child's places in each five of the pid list: it reads less than the parent, since it
# starts a little later and pays for the pages it copies from the parent as it writes them.
CHILD_PLACES = (1, 3)
# Below this many processes a fork costs more than it saves.
MINIMUM_PIDS = 200

# pid -> what reading it gave: a Process as fields (None: ZOMBIE; no entry: unreadable), and
# the errors reading it added.
Read = tuple[tuple[object, ...] | None, list[ScanError]]


def split_scan(scanner: ProcScanner) -> ProcScan:
    """Every process, read by this process and a child; as `scanner.scan()` would read them."""
    pids = scanner.pids()
    if len(pids) < MINIMUM_PIDS or threading.active_count() > 1 or os.cpu_count() in (None, 1):
        return scanner.scan()
    theirs = [pid for i, pid in enumerate(pids) if i % 5 in CHILD_PLACES]
    ours = [pid for i, pid in enumerate(pids) if i % 5 not in CHILD_PLACES]
    results_read, results_write = os.pipe()
    try:
        child = os.fork()
    except OSError:
        os.close(results_read)
        os.close(results_write)
        return scanner.scan()
    if child == 0:
        os.close(results_read)
        _read_for_parent(scanner, theirs, results_write)
    os.close(results_write)
    try:
        mine = {pid: _read(scanner, pid) for pid in ours}
        received = _receive(child, results_read)
    finally:
        os.close(results_read)
    if received is None:
        received = {pid: _read(scanner, pid) for pid in theirs}
    return _merged(pids, mine, received)


def _read(scanner: ProcScanner, pid: int) -> tuple[Process | None, list[ScanError]]:
    errors: list[ScanError] = []
    return scanner.read_process(pid, errors), errors


def _read_for_parent(scanner: ProcScanner, pids: Iterable[int], results: int) -> None:
    """The child: read `pids`, send what was read, exit. Never returns."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        read: dict[int, Read] = {}
        for pid in pids:
            process, errors = _read(scanner, pid)
            read[pid] = (None if process is ZOMBIE else _fields(process), errors)
        send_message(results, read)
        code = 0
    except BaseException:  # nothing of the child may reach the parent's terminal
        code = 1
    finally:
        os._exit(code)


def _fields(process: Process | None) -> tuple[object, ...] | None:
    """A Process as plain values (its default errors, a read-only mapping, pickle refuses)."""
    if process is None:
        return ()
    errors = None if process.ns_errors is NO_NS_ERRORS else dict(process.ns_errors)
    return (
        process.pid, process.ppid, process.comm, process.start_time,
        process.cgroup_paths, dict(process.namespaces), errors,
    )  # fmt: skip


def _process(fields: tuple[object, ...] | None) -> Process | None:
    if fields is None:
        return ZOMBIE
    if not fields:
        return None
    pid, ppid, comm, start_time, cgroup_paths, namespaces, errors = fields
    return Process(
        pid=pid, ppid=ppid, comm=comm, start_time=start_time,  # type: ignore[arg-type]
        cgroup_paths=cgroup_paths, namespaces=namespaces,  # type: ignore[arg-type]
        ns_errors=NO_NS_ERRORS if errors is None else errors,  # type: ignore[arg-type]
    )  # fmt: skip


def _receive(child: int, results: int) -> dict[int, tuple[Process | None, list[ScanError]]] | None:
    """The child's reads, or None when it gave none (it is ended and reaped either way)."""
    try:
        read: Mapping[int, Read] = receive_message(results, CHILD_TIMEOUT_SECONDS)
        received = {pid: (_process(fields), errors) for pid, (fields, errors) in read.items()}
    except Exception:  # gone, late or garbled: the parent reads its share itself
        received = None
    with contextlib.suppress(ProcessLookupError):
        if received is None:
            os.kill(child, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(child, 0)
    return received


def _merged(
    pids: list[int],
    mine: Mapping[int, tuple[Process | None, list[ScanError]]],
    theirs: Mapping[int, tuple[Process | None, list[ScanError]]],
) -> ProcScan:
    """One ProcScan in the pid list's order, as `ProcScanner.scan` builds it."""
    result = ProcScan()
    for pid in pids:
        process, errors = mine[pid] if pid in mine else theirs[pid]
        result.errors.extend(errors)
        if process is ZOMBIE:
            result.zombies += 1
        elif process is not None:
            result.processes[pid] = process
    return result
