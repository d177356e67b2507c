"""Benchmark nsinspect's scan against `lsns` and a C floor on thousands of real namespaces.

Run as root from the repository (not a timed test; it takes a few minutes at the default size):

    sudo .venv/bin/python benchmarks/bench_scan.py [--pods 500 --containers 3 --rounds 11]

It starts N synthetic pods x K containers (`fleet.py`), checks that nsinspect finds every one
of them whole and judged right (exit 1 otherwise), then times, round by round on the same
processes: `lsns -J`, `lsns -J -t net`, the floor (`floor.c`, compiled here: readlink of 8
namespace links per process and nothing else), nsinspect's cold scan (a new SnapshotBuilder),
its steady-state scan (one builder reused) and a steady scan after one process changed. Then it
runs the real agent under that load for its RSS and `/metrics` latency, removes everything it
started, prints the table and writes it to benchmarks/RESULTS.md. The table includes the bytes
and series /metrics has per container at each --metrics-detail (`--sizes-only`: only those, no
timing, nothing written).
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import report
from agent_probe import probe_agent
from fleet import become_subreaper, start_fleet
from metrics_size import measure_all
from metrics_size import render as render_sizes
from timing import (
    Sample,
    compile_floor,
    machine_busy_seconds,
    own_cpu_seconds,
    run_floor,
    time_call,
    time_command,
)
from verify import fleet_problems

from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

HERE = Path(__file__).resolve().parent
TOOLS = ("lsns", "gcc", "unshare", "nsenter", "bash", "sleep")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--containers", type=int, default=3, help="containers per pod")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--scrapes", type=int, default=200, help="/metrics scrapes of the agent")
    parser.add_argument("--agent-interval", type=float, default=2.0, help="the agent's interval")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=None, help="also write the run as JSON")
    parser.add_argument(
        "--sizes-only",
        action="store_true",
        help="print /metrics' bytes and series per container at each detail level, then stop",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=180.0,
        help="wait up to this many seconds for the 1-minute load average to fall below the CPU "
        "count before starting (the kernel tears down a previous run's namespaces for minutes)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("bench_scan: run as root (it creates namespaces and reads every process)")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        sys.exit(f"bench_scan: missing {', '.join(missing)}")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    become_subreaper()
    # A SIGTERM (a CI timeout) unwinds through the `finally` below, so the fleet is removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"bench_scan: signal {signum}"))
    settle(args.settle)
    load_before = load_average()

    with tempfile.TemporaryDirectory(prefix="nsinspect-bench-") as tmp:
        workdir = Path(tmp)
        floor = compile_floor(workdir)
        print(f"starting {args.pods} pods x {args.containers} containers ...", flush=True)
        fleet = start_fleet(workdir / "fleet", args.pods, args.containers)
        try:
            print(f"started {fleet.process_count} processes; checking nsinspect finds them")
            snapshot = SnapshotBuilder(ScanConfig()).build()
            problems = fleet_problems(snapshot, fleet)
            if problems:
                print(f"FAILED: {len(problems)} problems, first ones:", file=sys.stderr)
                print("\n".join(problems[:20]), file=sys.stderr)
                return 1
            metrics_sizes = measure_all(snapshot)
            del snapshot
            if args.sizes_only:
                print("\n".join(render_sizes(metrics_sizes)))
                return 0
            print(f"all {len(fleet.pods)} pods found; timing {args.rounds} rounds", flush=True)
            started, busy, own = time.monotonic(), machine_busy_seconds(), own_cpu_seconds()
            samples, proc_entries, scanned = time_rounds(floor, args.rounds)
            others = machine_busy_seconds() - busy - (own_cpu_seconds() - own)
            others_share = others / ((time.monotonic() - started) * (os.cpu_count() or 1))
            load_after = load_average()
            print(f"running the agent for {args.scrapes} scrapes", flush=True)
            agent = probe_agent(workdir, args.agent_interval, args.scrapes)
        finally:
            fleet.stop()
        print("removed every process the benchmark started")

    run = report.Run(
        pods=args.pods,
        containers=args.containers,
        rounds=args.rounds,
        synthetic_processes=fleet.process_count,
        proc_entries=proc_entries,
        scanned_processes=scanned,
        pods_found=len(fleet.pods),
        samples=samples,
        agent=agent,
        agent_interval=args.agent_interval,
        command=shlex.join(["python", *sys.argv]),
        load_before=load_before,
        load_after=load_after,
        others_cpu_share=others_share,
        metrics_sizes=metrics_sizes,
    )
    table = report.render(run)
    print("\n" + table)
    report.write_results(run, table, args.results)
    if args.json is not None:
        report.write_json(run, args.json)
    return 0


def time_rounds(floor: Path, rounds: int) -> tuple[dict[str, list[Sample]], int, int]:
    """Each round times every contender once, starting one further along the list each round,
    so that none is always the one that runs on a cache another has just warmed."""
    steady = SnapshotBuilder(ScanConfig())
    changing = SnapshotBuilder(ScanConfig())
    steady.build()  # imports, and the steady builder's caches
    changing.build()
    scanned = 0

    def cold() -> Sample:
        return time_call(lambda: SnapshotBuilder(ScanConfig()).build())

    def steady_scan() -> Sample:
        nonlocal scanned
        built = []
        sample = time_call(lambda: built.append(steady.build()))
        scanned = len(built[0].processes)
        return sample

    def after_change() -> Sample:
        with subprocess.Popen(["sleep", "60"]) as changed:
            try:
                return time_call(changing.build)
            finally:
                changed.kill()

    floor_runs = []

    def floor_scan() -> Sample:
        floor_runs.append(run_floor(floor))
        return floor_runs[-1].sample

    contenders = {
        report.LSNS: lambda: time_command(["lsns", "-J"]),
        report.LSNS_NET: lambda: time_command(["lsns", "-J", "-t", "net"]),
        report.FLOOR: floor_scan,
        report.COLD: cold,
        report.STEADY: steady_scan,
        report.CHANGED: after_change,
    }
    names = list(contenders)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            samples[name].append(contenders[name]())
        print(f"  round {index + 1}/{rounds} done", flush=True)
    return samples, floor_runs[-1].processes, scanned


def settle(timeout: float) -> None:
    cpus = os.cpu_count() or 1
    deadline = time.monotonic() + timeout
    if os.getloadavg()[0] >= cpus and timeout > 0:
        print(f"waiting up to {timeout:.0f} s for the load average ({load_average()}) to settle")
    while os.getloadavg()[0] >= cpus and time.monotonic() < deadline:
        time.sleep(5)


def load_average() -> str:
    return " ".join(f"{load:.1f}" for load in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
