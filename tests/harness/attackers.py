"""Hostile processes for the reliability tests (issue G), each started and ended by pid.

The attacking is done by one small C program, `attackers.c` beside this file, compiled into the
test's directory (`build`): a FIFO swapper (fd 100 flips between an nsfs file and a FIFO with no
writer), an fd holder (thousands of fds on one namespace) and a churner (short-lived children at
a set rate). Swappers and holders make a network namespace of their own and pin only that; the
FIFOs live in the test's directory. Each comes in two disguises: a process that merely renames
itself `containerd` (prctl PR_SET_NAME), and one whose executable really is called `containerd`
(a root-owned 0755 copy in a 0755 directory of the test's), which a runtime check by executable
lets through, so its fd table is read.

Bounds: at most MAX_PROCESSES at once per `Attackers`, each lives at most its `seconds` (the
program's own alarm, and it dies with its parent), and `end_all` SIGKILLs and reaps each by pid.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SOURCE = Path(__file__).with_name("attackers.c")
RUNTIME_NAME = "containerd"
MAX_PROCESSES = 12
MAX_SECONDS = 3600.0  # a soak of the benchmark runs for as long as it is told, within this
MAX_FDS = 19_950  # fits under this machine's hard RLIMIT_NOFILE of 20,000 with stdio
MAX_RATE = 5_000.0
# Swappers spin on two CPUs' worth of dup2 calls; at nice 10 they leave the agent its share of
# the CPU, so a test measures whether the agent blocks, not how the scheduler splits a core.
SWAPPER_NICE = 10


@dataclass(frozen=True)
class AttackerBinaries:
    renamed: Path  # `nsi-attacker`, which renames itself `containerd`
    runtime_named: Path  # `<dir>/bin/containerd`: what a runtime check by executable accepts


def build(directory: Path) -> AttackerBinaries:
    """Compile attackers.c into `directory` and copy it to `directory/bin/containerd`."""
    directory.mkdir(parents=True, exist_ok=True)
    renamed = directory / "nsi-attacker"
    subprocess.run(
        ["gcc", "-O2", "-Wall", "-o", str(renamed), str(SOURCE)], check=True, capture_output=True
    )
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    runtime_named = bin_dir / RUNTIME_NAME
    shutil.copy(renamed, runtime_named)
    for path in (directory, bin_dir, runtime_named):
        os.chown(path, 0, 0)
        path.chmod(0o755)
    return AttackerBinaries(renamed, runtime_named)


@dataclass
class Attacker:
    process: subprocess.Popen[str]
    what: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def end(self) -> None:
        """SIGKILL by pid (while unreaped the pid cannot be reused) and reap."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass
class Attackers:
    """The hostile processes of one test; leaving the `with` ends every one of them."""

    binaries: AttackerBinaries
    workdir: Path
    started: list[Attacker] = field(default_factory=list)

    def __enter__(self) -> Attackers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.end_all()

    def end_all(self) -> None:
        for attacker in self.started:
            attacker.end()
        self.started.clear()

    def fifo_swappers(self, count: int, runtime_named: bool, seconds: float) -> list[Attacker]:
        swappers = []
        for _ in range(count):
            fifo = self.workdir / f"fifo-{len(self.started)}"
            os.mkfifo(fifo)
            swapper = self._start(runtime_named, "swap", str(fifo), seconds)
            os.setpriority(os.PRIO_PROCESS, swapper.pid, SWAPPER_NICE)
            swappers.append(swapper)
        return swappers

    def fd_holders(
        self, count: int, fds: int, runtime_named: bool, seconds: float
    ) -> list[Attacker]:
        if not 0 < fds <= MAX_FDS:
            raise ValueError(f"fds per holder must be 1..{MAX_FDS}")
        return [self._start(runtime_named, "hold", str(fds), seconds) for _ in range(count)]

    def churner(self, rate: float, seconds: float) -> Attacker:
        if not 0 < rate <= MAX_RATE:
            raise ValueError(f"churn rate must be at most {MAX_RATE}/s")
        return self._start(None, "churn", f"{rate:g}", seconds)

    def _start(self, runtime_named: bool | None, mode: str, arg: str, seconds: float) -> Attacker:
        if len(self.started) >= MAX_PROCESSES:
            raise RuntimeError(f"more than {MAX_PROCESSES} attackers at once")
        if not 0 < seconds <= MAX_SECONDS:
            raise ValueError(f"an attacker lives 0..{MAX_SECONDS} s")
        if runtime_named:
            argv, disguise = [str(self.binaries.runtime_named)], "executable containerd"
        elif runtime_named is None:
            argv, disguise = [str(self.binaries.renamed)], "no disguise"
        else:
            argv = [str(self.binaries.renamed), "--comm", RUNTIME_NAME]
            disguise = "renamed containerd"
        process = subprocess.Popen(
            [*argv, mode, arg, f"{seconds:g}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, cwd=self.workdir,
        )  # fmt: skip
        attacker = Attacker(process, f"{mode} {arg} ({disguise})")
        self.started.append(attacker)
        line = read_line(attacker, timeout=30.0)
        if not line.startswith("ready"):
            raise RuntimeError(f"attacker {attacker.what} did not start: {line!r}")
        return attacker


def read_line(attacker: Attacker, timeout: float) -> str:
    """The attacker's next line of output, or TimeoutError."""
    stream = attacker.process.stdout
    assert stream is not None
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"attacker {attacker.what}: no output in {timeout} s")
    return stream.readline().strip()


def churn_rate(churner: Attacker, timeout: float) -> tuple[int, float]:
    """(children started, seconds) once the churner is done, as it counted them."""
    deadline = time.monotonic() + timeout
    line = read_line(churner, timeout=max(0.1, deadline - time.monotonic()))
    if not line.startswith("forks "):
        raise RuntimeError(f"churner: unexpected {line!r}")
    _, forks, _, seconds = line.split()
    churner.process.wait(timeout=max(0.1, deadline - time.monotonic()))
    return int(forks), float(seconds)
