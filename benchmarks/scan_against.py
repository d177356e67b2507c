"""Time this checkout's scan against another revision's, on the same synthetic pods.

Run as root from the repository (not a timed test):

    sudo .venv/bin/python benchmarks/scan_against.py REV [--pods 500 --containers 3 --rounds 8]

It takes REV's `agent/` and `cli/` with `git archive`, starts the fleet once (`fleet.py`), then
in each round runs one scanner process per side, the order alternating: a cold scan (a new
SnapshotBuilder), steady scans (the same builder, nothing changed) and steady scans with one
process started just before (so the scan's input differs and only per-pod results are reused).
It prints each figure's median over the rounds and the per-round ratios, this checkout over REV.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fleet import become_subreaper, start_fleet

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIGURES = ("cold", "steady", "one_changed")

# Runs in each side's interpreter, with that side's nsinspect first on sys.path.
SCANNER = r"""
import json, statistics, subprocess, sys, time
try:
    from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder
except ImportError:  # revisions before the scanner package
    from nsinspect.agent.snapshot import ScanConfig, SnapshotBuilder

def timed(call):
    started = time.process_time()
    call()
    return time.process_time() - started

scans = int(sys.argv[1])
builder = SnapshotBuilder(ScanConfig())
figures = {"cold": [timed(builder.build)], "steady": [], "one_changed": []}
builder.build()
for _ in range(scans):
    figures["steady"].append(timed(builder.build))
for _ in range(scans):
    with subprocess.Popen(["sleep", "60"]) as changed:
        figures["one_changed"].append(timed(builder.build))
        changed.kill()
    builder.build()
pods = len(builder.build().pods)
print(json.dumps({"pods": pods, **{k: statistics.median(v) for k, v in figures.items()}}))
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", help="the git revision to time against, e.g. HEAD~1")
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--containers", type=int, default=3, help="containers per pod")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--scans", type=int, default=6, help="scans of each kind per round")
    return parser.parse_args(argv)


def side(root: Path, source: Path) -> Path:
    """A directory with `nsinspect/agent` and `nsinspect/cli` taken from `source`."""
    package = root / "nsinspect"
    package.mkdir(parents=True)
    (package / "__init__.py").touch()
    for part in ("agent", "cli"):
        (package / part).symlink_to(source / part)
    return root


def scan(path: Path, scans: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(path))
    done = subprocess.run(
        [sys.executable, "-c", SCANNER, str(scans)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("scan_against: run as root (it creates namespaces and reads every process)")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    become_subreaper()
    with tempfile.TemporaryDirectory() as work:
        workdir = Path(work)
        archive = workdir / "revision.tar"
        with archive.open("wb") as out:
            subprocess.run(
                ["git", "-C", str(REPO), "archive", args.revision, "agent", "cli"],
                stdout=out,
                check=True,
            )
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(workdir / "revision", filter="data")
            else:  # filters came with Python 3.11.4; Debian 12 has 3.11.2 (our own archive)
                tar.extractall(workdir / "revision")
        sides = {
            args.revision: side(workdir / "theirs", workdir / "revision"),
            "this checkout": side(workdir / "ours", REPO),
        }
        fleet = start_fleet(workdir, args.pods, args.containers)
        try:
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
            for round_number in range(args.rounds):
                names = list(sides) if round_number % 2 == 0 else list(reversed(sides))
                for name in names:
                    runs[name].append(scan(sides[name], args.scans))
        finally:
            fleet.stop()
    print_table(args, runs)
    return 0


def print_table(args: argparse.Namespace, runs: dict[str, list[dict[str, float]]]) -> None:
    theirs, ours = runs.values()
    print(
        f"{args.pods} pods x {args.containers} containers, {args.rounds} rounds interleaved, "
        f"{args.scans} scans of each kind per round; CPU ms, median over the rounds "
        f"(pods found: {int(theirs[0]['pods'])} vs {int(ours[0]['pods'])})"
    )
    print(f"{'':14}" + "".join(f"{name:>18}" for name in runs) + "   ratio per round, median")
    for figure in FIGURES:
        medians = [statistics.median(run[figure] for run in side) * 1000 for side in runs.values()]
        ratios = [o[figure] / t[figure] for t, o in zip(theirs, ours, strict=True)]
        print(
            f"{figure:14}"
            + "".join(f"{value:18.1f}" for value in medians)
            + f"   {statistics.median(ratios):.3f} [{min(ratios):.2f}-{max(ratios):.2f}]"
        )


if __name__ == "__main__":
    sys.exit(main())
