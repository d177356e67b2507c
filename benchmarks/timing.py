"""How each contender of a round is timed: wall clock and CPU time, the same way for all.

External programs (`lsns`, the floor) are timed from the outside with wait4(2)'s resource usage;
the floor also times itself, which leaves out its own exec and dynamic loading, so the floor it
reports is the lowest it can be. nsinspect runs in this process, timed around the call.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FLOOR_SOURCE = Path(__file__).with_name("floor.c")


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # seconds of user + system time


@dataclass(frozen=True)
class FloorRun:
    sample: Sample
    processes: int  # entries of /proc, kernel threads included
    links: int


def compile_floor(workdir: Path) -> Path:
    binary = workdir / "floor"
    subprocess.run(
        ["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(FLOOR_SOURCE)],
        check=True,
    )
    return binary


def time_command(argv: list[str]) -> Sample:
    """Run a program to its end, its output discarded; fail if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stderr is not None
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}: {error[-500:]}")
    return Sample(wall, usage.ru_utime + usage.ru_stime)


def run_floor(binary: Path) -> FloorRun:
    output = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    processes, links, wall, cpu = output.split()
    return FloorRun(Sample(float(wall), float(cpu)), int(processes), int(links))


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs have been busy since boot (`/proc/stat`: all but idle and iowait)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have been waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def time_call(call: Callable[[], object]) -> Sample:
    """Time a call in this process (CPU time of the whole process: threads it starts count)."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return Sample(time.perf_counter() - wall, time.process_time() - cpu)
