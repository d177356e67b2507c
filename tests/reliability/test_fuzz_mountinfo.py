"""Fuzz the mount table's parsers: nsfs pins (`discovery.mounts`) and mqueue mounts (`ipc`).

At least 10,000 generated inputs (counted), half arbitrary bytes, half mountinfo lines as the
kernel writes them with fields mutated: octal escapes whole and cut, bytes that are not UTF-8,
` - ` where it does not belong, nsfs roots that are not `type:[inode]`, now and then a table over
the cap. Through the pure parsers and through `read_pins` on a fake proc tree, where a bad table
must be exactly one ScanError. Settings as in test_fuzz_procfs (derandomized: reproducible in CI).
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.fakeproc import FakeProc
from nsinspect.agent.discovery.mounts import MOUNTINFO_CAP, parse_mountinfo, read_pins
from nsinspect.agent.model import ScanError, ScanStage
from nsinspect.agent.namespace_contents.ipc import parse_mqueue_mounts

EXAMPLES = 10_000
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
PID = 1

ODD = [
    b"",
    b"-",
    b" - ",
    b"\\",
    b"\\04",
    b"\\777",
    b"\\134\\040",
    b"\xff\xfe",
    b"\xed\xa0\x80",
    b"\x00",
    b"\t",
    b"9" * 5000,
    b"[",
    b"]",
    b":",
]
ROOTS = [b"net:[4026532289]", b"uts:[1]", b"net:[]", b"net:[-1]", b"net:4026532289]", b"/"]
MOUNT_POINTS = [b"/run/netns/cni-1", b"/run/netns/a\\040b", b"/run/utsns/\xff\\134x", b"/"]
FILESYSTEMS = [b"nsfs", b"mqueue", b"ext4", b"tmpfs", b"nsfs nsfs", b""]


def mountinfo_line(rng: random.Random) -> bytes:
    fields = [
        str(rng.randrange(1000)).encode(),
        b"29",
        rng.choice([b"0:4", b"0:19", *ODD]),
        rng.choice(ROOTS + ODD),
        rng.choice(MOUNT_POINTS + ODD),
        b"rw,nosuid",
        *rng.choices([b"shared:300", b"master:1", b"-", *ODD], k=rng.randrange(3)),
    ]
    for _ in range(rng.randrange(3)):
        fields[rng.randrange(len(fields))] = rng.choice(ODD)
    fields = fields[: rng.randrange(len(fields) + 1)]
    tail = [rng.choice(FILESYSTEMS), rng.choice([b"nsfs", b"mqueue", *ODD]), b"rw"]
    return b" ".join(fields) + rng.choice([b" - ", b" -", b"-", b" - - "]) + b" ".join(tail)


def mountinfo(rng: random.Random) -> bytes:
    """A mount table of mutated lines; rarely (it costs ~0.1 s) one over the cap."""
    table = b"\n".join(mountinfo_line(rng) for _ in range(rng.randrange(8)))
    if rng.random() < 0.002:
        table = table * (MOUNTINFO_CAP // max(len(table), 1) + 2)
    return table


# A shaped input is built from one drawn Random: Hypothesis costs ~50 us a draw.
mountinfo_inputs = st.one_of(
    st.binary(max_size=400), st.randoms(use_true_random=True).map(mountinfo)
)


def test_fuzz_mountinfo_lines(record_property: Any) -> None:
    runs = refused = 0
    with tempfile.TemporaryDirectory(dir=SCRATCH) as root:
        proc = FakeProc(Path(root))
        proc.add(PID)
        table = proc.root / str(PID) / "mountinfo"

        @FUZZ
        @given(mountinfo_inputs)
        def check(data: bytes) -> None:
            nonlocal runs, refused
            runs += 1
            too_large = len(data) > MOUNTINFO_CAP
            refused += too_large
            pins, malformed = ([], 0) if too_large else parse_mountinfo(data)
            assert all(p.path and p.inode >= 0 for p in pins)
            if not too_large:
                parse_mqueue_mounts(data.decode("utf-8", "replace"))
            table.write_bytes(data)
            errors: list[ScanError] = []
            assert read_pins(str(proc.root), PID, errors) == pins
            assert len(errors) == (too_large or malformed > 0)
            assert all(e.stage is ScanStage.MOUNTS for e in errors)

        check()
    record_property("examples", runs)
    assert runs >= EXAMPLES and refused > 0
