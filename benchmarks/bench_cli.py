"""Benchmark the nsinspect command as a user runs it: whole processes, start-up included.

Run as root from the repository (not a timed test; a few minutes at the default sizes):

    sudo .venv/bin/python benchmarks/bench_cli.py [--pod-fleet 500 --list-fleet 300 --rounds 11]

Times, in interleaved rounds (each round starts one contender further along the list) and as
medians of the rounds, every command as a new process with its output thrown away:
`python3 -c pass` (the interpreter's own start-up), `nsinspect --version`, `nsinspect --help`;
then, with `--pod-fleet` synthetic pods of `--containers` containers (`fleet.py`), `nsinspect
pod NAME` of one of them; then, with `--list-fleet` pods, `nsinspect pods -A -o json` and
`lsns -J` on the same processes. Python's bytecode cache is written and used, as an installed
nsinspect's is. It prints the table with the issue's targets and the ratios,
writes it into RESULTS.md (its own section), and removes every process it started.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fleet import Fleet, become_subreaper, start_fleet
from timing import Sample, time_command

HERE = Path(__file__).resolve().parent
SECTION = "## CLI: whole-process timings (`benchmarks/bench_cli.py`)"
RETRIED: list[str] = []  # the runs that failed and were run again
# Targets of issue I, item 3.
HELP_OVER_PYTHON_MS = 80.0
POD_SECONDS = 0.2
LIST_OVER_LSNS = 0.5


@dataclass
class Timings:
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def add(self, name: str, sample: Sample) -> None:
        self.samples.setdefault(name, []).append(sample)

    def wall(self, name: str) -> float:
        return statistics.median(s.wall for s in self.samples[name])

    def cpu(self, name: str) -> float:
        return statistics.median(s.cpu for s in self.samples[name])

    def ratio(self, name: str, other: str) -> float:
        """The median of the per-round ratios of wall-clock times."""
        pairs = zip(self.samples[name], self.samples[other], strict=True)
        return statistics.median(a.wall / b.wall for a, b in pairs)

    def difference_ms(self, name: str, other: str) -> float:
        pairs = zip(self.samples[name], self.samples[other], strict=True)
        return 1000 * statistics.median(a.wall - b.wall for a, b in pairs)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pod-fleet", type=int, default=500, help="pods for `pod NAME`")
    parser.add_argument("--list-fleet", type=int, default=300, help="pods for `pods -A -o json`")
    parser.add_argument("--containers", type=int, default=3, help="containers per pod")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument(
        "--nsinspect",
        default=shutil.which("nsinspect", path=str(Path(sys.executable).parent)) or "nsinspect",
        help="the nsinspect executable [default: the one beside this Python]",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("bench_cli: run as root (it creates namespaces and reads every process)")
    missing = [tool for tool in ("lsns", "unshare", "nsenter", "sleep") if not shutil.which(tool)]
    if missing:
        sys.exit(f"bench_cli: missing {', '.join(missing)}")
    # An installed nsinspect runs from cached bytecode (pip, the image and the zipapp compile
    # it); with PYTHONDONTWRITEBYTECODE set (as in some dev shells) every run would compile
    # every module of an editable install again, ~60-90 ms each time. The untimed first run
    # of each command writes the cache.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    become_subreaper()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"bench_cli: signal {signum}"))
    nsinspect = [args.nsinspect, "--local"]
    # The interpreter nsinspect's own script starts (its #! line): a `python3` found on PATH
    # may be a wrapper (pyenv's shims are bash scripts) that costs more than nsinspect itself.
    python = interpreter_of(args.nsinspect)
    startup = {
        "python3 -c pass": [python, "-c", "pass"],
        "nsinspect --version": [args.nsinspect, "--version"],
        "nsinspect --help": [args.nsinspect, "--help"],
    }
    timings = Timings()
    load_at_start = load()
    with tempfile.TemporaryDirectory(prefix="nsinspect-bench-cli-") as tmp:
        fleet = started(Path(tmp) / "pods", args.pod_fleet, args.containers)
        try:
            name = pod_name(fleet)
            contenders = {**startup, f"pod NAME ({args.pod_fleet} pods)": [*nsinspect, "pod", name]}
            check(contenders)
            time_rounds(contenders, args.rounds, timings)
        finally:
            fleet.stop()
        fleet = started(Path(tmp) / "list", args.list_fleet, args.containers)
        try:
            contenders = {
                f"pods -A -o json ({args.list_fleet} pods)": [
                    *nsinspect,
                    "pods",
                    "-A",
                    "-o",
                    "json",
                ],
                f"lsns -J ({args.list_fleet} pods)": ["lsns", "-J"],
            }
            check(contenders)
            time_rounds(contenders, args.rounds, timings)
        finally:
            fleet.stop()
    print("removed every process the benchmark started")
    table = render(timings, args)
    print("\n" + table)
    print(f"load average at the start: {load_at_start}; at the end: {load()}")
    write_section(args.results, table, args, load_at_start)
    return 0


def interpreter_of(script: str) -> str:
    """The interpreter a Python script's #! line names; this one's where it names none."""
    try:
        with open(shutil.which(script) or script, "rb") as handle:
            first = handle.readline(4096)
    except OSError:
        return sys.executable
    if first.startswith(b"#!") and first[2:].split():
        return first[2:].split()[0].decode("utf-8", "replace")
    return sys.executable


def started(workdir: Path, pods: int, containers: int) -> Fleet:
    print(f"starting {pods} pods x {containers} containers ...", flush=True)
    fleet = start_fleet(workdir, pods, containers)
    print(f"started {fleet.process_count} processes", flush=True)
    return fleet


def pod_name(fleet: Fleet) -> str:
    """The name nsinspect gives a synthetic pod: `net-<inode>` of its holder's namespace."""
    holder = sorted(fleet.pods)[len(fleet.pods) // 2]
    return "net-" + os.readlink(f"/proc/{holder}/ns/net").removeprefix("net:[").rstrip("]")


def check(contenders: dict[str, list[str]]) -> None:
    """Each command runs once untimed (and warms the page cache): one that fails stops here."""
    for argv in contenders.values():
        timed(argv)


def timed(argv: list[str], attempts: int = 3) -> Sample:
    """A run that ended well. lsns exits 1, saying nothing, now and then on a busy machine
    (a process gone while it reads /proc, it seems): such a run is run again, and counted."""
    for attempt in range(attempts):
        try:
            return time_command(argv)
        except RuntimeError as exc:
            if attempt == attempts - 1:
                raise
            RETRIED.append(f"{exc}".splitlines()[0][:200])
    raise AssertionError("unreachable")


def time_rounds(contenders: dict[str, list[str]], rounds: int, timings: Timings) -> None:
    names = list(contenders)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            timings.add(name, timed(contenders[name]))
        print(f"round {round_number + 1}/{rounds}", flush=True)


def render(timings: Timings, args: argparse.Namespace) -> str:
    lines = [
        f"nsinspect CLI benchmark: whole processes, {args.rounds} interleaved rounds, medians; "
        f"synthetic pods of {args.containers} containers",
        "",
        f"{'command':<42}{'wall median':>12}{'CPU median':>12}",
    ]
    for name in timings.samples:
        lines.append(
            f"{name:<42}{1000 * timings.wall(name):>9.1f} ms{1000 * timings.cpu(name):>9.1f} ms"
        )
    pod = f"pod NAME ({args.pod_fleet} pods)"
    listing = f"pods -A -o json ({args.list_fleet} pods)"
    lsns = f"lsns -J ({args.list_fleet} pods)"
    python = "python3 -c pass"
    targets = [
        ("--version over python3 -c pass", timings.difference_ms("nsinspect --version", python),
         HELP_OVER_PYTHON_MS, "ms"),
        ("--help over python3 -c pass", timings.difference_ms("nsinspect --help", python),
         HELP_OVER_PYTHON_MS, "ms"),
        (pod, 1000 * timings.wall(pod), 1000 * POD_SECONDS, "ms"),
        (f"{listing} / lsns -J", timings.ratio(listing, lsns), LIST_OVER_LSNS, "x"),
    ]  # fmt: skip
    if RETRIED:
        lines += ["", f"runs that failed and were run again: {len(RETRIED)} ({RETRIED[0]})"]
    lines += ["", "targets (per-round differences and ratios, median):"]
    for label, value, target, unit in targets:
        verdict = "met" if value <= target else "MISSED"
        lines.append(f"  {label:<46}{value:>8.2f} {unit:<3}<= {target:g} {unit:<3} {verdict}")
    return "\n".join(lines)


def write_section(path: Path, table: str, args: argparse.Namespace, load_at_start: str) -> None:
    """Replace this benchmark's section of RESULTS.md (appended the first time)."""
    command = "python benchmarks/bench_cli.py " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in (
            ("pod_fleet", args.pod_fleet),
            ("list_fleet", args.list_fleet),
            ("containers", args.containers),
            ("rounds", args.rounds),
        )
    )
    section = (
        f"{SECTION}\n\n- command: `{command}`\n"
        f"- load average (1, 5, 15 min) at the start: {load_at_start}; at the end: {load()}\n\n"
        f"```\n{table}\n```\n"
    )
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(SECTION) + r".*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    path.write_text(text)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
