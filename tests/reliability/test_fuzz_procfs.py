"""Fuzz the proc scan's parsers: `/proc/<pid>/stat` lines and `/proc/<pid>/cgroup` lines.

Each suite runs at least 10,000 generated inputs (counted, so the figure is true), half arbitrary,
half shaped like the real file with its fields mutated, first through the pure parser and then
through the scanner reading a fake proc tree, where a bad file must be exactly one ScanError.
`derandomize=True`: CI sees the same inputs on every run, so a failure always reproduces; new
inputs come from changing the strategies, not from luck.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.fakeproc import FakeProc
from nsinspect.agent.discovery.procfs import (
    CGROUP_CAP,
    STAT_CAP,
    ZOMBIE,
    ProcScanner,
    parse_cgroup,
    parse_stat,
)
from nsinspect.agent.model import Process, ScanError, ScanStage
from nsinspect.agent.runtimes.cgroups import match_cgroup

EXAMPLES = 10_000
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
# The inputs are written to files: on a tmpfs a write costs ~15 us, on a disk's ext4 ~200 us.
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
PID = 4242
Judge = Callable[[bytes, Process | None, list[ScanError]], None]
CID = "ab" * 32
UID = "0dce96c8-10db-4274-82a3-05b59e8d9b10"

# Values a field may take instead of its own: numbers out of any range, other scripts' digits,
# the comm's own delimiters, bytes that are not UTF-8 once encoded, nothing at all.
ODD = [
    "",
    "-",
    "+7",
    "0x1f",
    "1_000",
    "\u0663",
    "\u00b2",
    "9" * 5000,
    "1e9",
    str(2**64),
    str(-(2**80)),
    "(",
    ")",
    ") S 1 ",
    "\n",
    ":",
    "\x00",
    "\ufffd",
    "\udcff",
    "a b",
]
COMMS = ["sh", "my (odd) comm", ") S 1 2", "a\nb", "", "((", "kworker/u8:2-events_unbound"]
STATES = list("RSDZXTtIKWP")


def stat_line(rng: random.Random) -> bytes:
    """A stat line as the kernel writes it (fields 3 to 52), with fields changed, cut or added."""
    fields = [rng.choice(STATES), "1", *["0"] * 17, str(rng.randrange(2**40)), *["0"] * 30]
    for _ in range(rng.randrange(4)):
        fields[rng.randrange(len(fields))] = rng.choice(ODD)
    fields = fields[: rng.randrange(56)] + rng.sample(ODD, rng.randrange(3))
    comm = rng.choice(COMMS + ODD)
    line = f"{rng.choice([str(PID), *ODD])} ({comm}) {' '.join(fields)}"
    data = line.encode("utf-8", "surrogatepass")
    return rng.choice([data + b"\n", data[: rng.randrange(len(data) + 1)], data + b"\xff\n"])


COMPONENTS = [
    "kubepods.slice",
    "kubepods-burstable.slice",
    f"kubepods-burstable-pod{UID.replace('-', '_')}.slice",
    f"pod{UID}",
    f"cri-containerd-{CID}.scope",
    f"crio-{CID}.scope",
    f"libpod-{CID}",
    f"crio-conmon-{CID}.scope",
    CID,
    f"machine-libpod_pod_{CID}.slice",
    f"x:cri-containerd:{CID}",
    "..",
    "libpod_parent",
    *ODD,
]
HIERARCHIES = ["0", "1", "12", *ODD]
CONTROLLERS = ["", "memory", "cpu,cpuacct", "name=systemd", "pids", *ODD]


def cgroup_file(rng: random.Random) -> bytes:
    """`/proc/<pid>/cgroup` as the kernel writes it, lines mutated; now and then far too long."""
    lines = [
        ":".join(
            [
                rng.choice(HIERARCHIES),
                rng.choice(CONTROLLERS),
                "/" + "/".join(rng.choices(COMPONENTS, k=rng.randrange(6))),
            ]
        )
        for _ in range(rng.randrange(6))
    ]
    if rng.random() < 0.3:
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(ODD))
    data = rng.choice(["\n", "\r\n", "\n\n"]).join(lines).encode("utf-8", "surrogatepass")
    if rng.random() < 0.02:
        data = data * (CGROUP_CAP // max(len(data), 1) + 2)
    return data


# Half arbitrary bytes, half shaped. A shaped input is built from one drawn Random: Hypothesis
# costs ~50 us a draw, and a line drawn field by field would make each suite minutes long.
stat_inputs = st.one_of(st.binary(max_size=300), st.randoms(use_true_random=True).map(stat_line))
cgroup_inputs = st.one_of(
    st.binary(max_size=300), st.randoms(use_true_random=True).map(cgroup_file)
)


def fuzz_proc_file(
    name: str, inputs: st.SearchStrategy[bytes], cap: int, judge: Judge, record_property: Any
) -> None:
    """Write each input as `<pid>/<name>` of a fake proc tree, read the process as a scan does,
    and let `judge` say whether the outcome is right for that input."""
    runs = refused = 0
    with tempfile.TemporaryDirectory(dir=SCRATCH) as root:
        proc = FakeProc(Path(root))
        proc.add(PID)
        path = proc.root / str(PID) / name

        @FUZZ
        @given(inputs)
        def check(data: bytes) -> None:
            nonlocal runs, refused
            runs += 1
            refused += len(data) > cap
            path.write_bytes(data)
            errors: list[ScanError] = []
            judge(data, ProcScanner(str(proc.root)).read_process(PID, errors), errors)

        check()
    record_property("examples", runs)
    assert runs >= EXAMPLES and refused > 0


def errors_of(stage: ScanStage, errors: list[ScanError]) -> int:
    assert all(e.stage is stage and e.pid == PID for e in errors), errors
    return len(errors)


def judge_stat(data: bytes, process: Process | None, errors: list[ScanError]) -> None:
    try:
        parsed = parse_stat(data.decode("utf-8", "replace"))
    except ValueError:
        parsed = None
    if parsed is None or len(data) > STAT_CAP:
        assert process is None and errors_of(ScanStage.STAT, errors) == 1
    else:
        assert errors == []
        assert process is None or process is ZOMBIE or process.comm == parsed.comm


def judge_cgroup(data: bytes, process: Process | None, errors: list[ScanError]) -> None:
    paths, malformed = parse_cgroup(data.decode("utf-8", "replace"))
    match_cgroup(paths)
    assert process is not None and process is not ZOMBIE
    too_large = len(data) > CGROUP_CAP
    assert errors_of(ScanStage.CGROUP, errors) == (too_large or bool(malformed))
    assert process.cgroup_paths == (() if too_large else paths)


def test_fuzz_stat_lines(record_property: Any) -> None:
    fuzz_proc_file("stat", stat_inputs, STAT_CAP, judge_stat, record_property)


def test_fuzz_cgroup_lines(record_property: Any) -> None:
    fuzz_proc_file("cgroup", cgroup_inputs, CGROUP_CAP, judge_cgroup, record_property)
