"""Issue G in figures: the real agent on a hostile node, scenario by scenario.

Run as root from the repository (a few minutes; it prints numbers and asserts nothing):

    .venv/bin/python benchmarks/reliability.py [--seconds 20] [--churn-seconds 60]
    .venv/bin/python benchmarks/reliability.py --soak-minutes 30 [--report-every 5]

Beside a real podman pod with the seed's containers (when podman is there), each scenario
starts a fresh agent (`nsinspect agent`, interval --interval) and the attackers of
tests/harness/attackers.py, and prints one row: scans done, scan time median and p99 (each scan's
duration from the agent's log), RSS at the start and end, the share of /readyz probes answered
200, and /healthz p99. Scenarios: the idle baseline; the FIFO race (4 swappers, renamed
`containerd` and with a `containerd` executable); the fd flood (5 x 19,950 nsfs fds, both
disguises); churn (short-lived processes at --churn-rate a second). With --soak-minutes N the
scenarios are skipped: churn runs beside the pod for N minutes and a line is printed every
--report-every minutes (RSS, scan time, readiness, and whether the pod was paired right).
Everything started is ended by pid, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the harness the reliability tests use

from harness.agent_watch import (  # noqa: E402
    MIB,
    AgentWatch,
    PodTruth,
    Window,
    metric_values,
    watched_agent,
)
from harness.attackers import MAX_FDS, AttackerBinaries, Attackers, build, churn_rate  # noqa: E402
from harness.podman import SEED_CONTAINERS, kube_play, pod_yaml  # noqa: E402

POD = "nsi-bench-seed"
SWAPPERS = 4
HOLDERS = 5
SOAK_SEGMENT_LIMIT_MINUTES = 30.0  # one churner lives at most this long; a soak chains them


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per attack scenario")
    parser.add_argument("--churn-seconds", type=float, default=60.0)
    parser.add_argument("--churn-rate", type=float, default=1500.0, help="processes a second")
    parser.add_argument("--interval", type=float, default=0.2, help="the agent's scan interval")
    parser.add_argument("--soak-minutes", type=float, default=0.0)
    parser.add_argument("--report-every", type=float, default=5.0, help="minutes, in a soak")
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Row:
    scenario: str
    window: Window
    note: str = ""


def render(rows: list[Row]) -> str:
    lines = [
        "| scenario | scans | scan median ms | scan p99 ms | RSS start MiB | RSS end MiB "
        "| ready % | /healthz p99 ms | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        w = row.window
        lines.append(
            f"| {row.scenario} | {w.scans} | {w.scan_quantile(0.5) * 1e3:.1f} "
            f"| {w.scan_quantile(0.99) * 1e3:.1f} | {w.rss_start / MIB:.1f} "
            f"| {w.rss_end / MIB:.1f} | {w.ready_share * 100:.1f} "
            f"| {w.healthz_p99 * 1e3:.1f} | {row.note} |"
        )
    return "\n".join(lines)


Scenario = Callable[[Attackers, AgentWatch], str]  # starts its attackers; returns a note


def run_scenario(
    name: str,
    scenario: Scenario,
    seconds: float,
    binaries: AttackerBinaries,
    args: argparse.Namespace,
) -> Row:
    with tempfile.TemporaryDirectory(prefix="nsinspect-reliability-") as tmp:
        workdir = Path(tmp)
        with (
            Attackers(binaries, workdir) as attackers,
            watched_agent(workdir, interval=args.interval) as watch,
        ):
            watch.wait_scans(5, timeout=60)
            started = watch.mark()
            note = scenario(attackers, watch)
            time.sleep(max(0.0, started + seconds - time.time()))
            window = watch.window(started, watch.mark())
            skipped = metric_values(watch.agent.metrics()).get("nsinspect_fds_skipped")
            if skipped:
                note += f" fds skipped per scan: {skipped:.0f}"
    print(f"  {name}: {window.scans} scans", flush=True)
    return Row(name, window, note.strip())


def baseline(attackers: Attackers, watch: AgentWatch) -> str:
    return ""


def fifo_race(runtime_named: bool) -> Scenario:
    def scenario(attackers: Attackers, watch: AgentWatch) -> str:
        attackers.fifo_swappers(SWAPPERS, runtime_named, seconds=600)
        return ""

    return scenario


def fd_flood(runtime_named: bool) -> Scenario:
    def scenario(attackers: Attackers, watch: AgentWatch) -> str:
        attackers.fd_holders(HOLDERS, MAX_FDS, runtime_named, seconds=600)
        return ""

    return scenario


def churn(rate: float, seconds: float) -> Scenario:
    def scenario(attackers: Attackers, watch: AgentWatch) -> str:
        churner = attackers.churner(rate, seconds)
        forks, took = churn_rate(churner, timeout=seconds + 60)
        return f"{forks / took:.0f} processes/s"

    return scenario


def soak(binaries: AttackerBinaries, args: argparse.Namespace, truth: PodTruth | None) -> None:
    total = args.soak_minutes * 60
    segment = min(args.report_every, SOAK_SEGMENT_LIMIT_MINUTES) * 60
    print("minute | scans | scan median ms | scan p99 ms | RSS MiB | ready % | churn/s | pod wrong")
    with tempfile.TemporaryDirectory(prefix="nsinspect-soak-") as tmp:
        workdir = Path(tmp)
        with (
            Attackers(binaries, workdir) as attackers,
            watched_agent(workdir, interval=args.interval, period=1.0) as watch,
        ):
            watch.wait_scans(5, timeout=60)
            started = watch.mark()
            print(f"0 | - | - | - | {watch.probes[-1].rss_bytes / MIB:.1f} | - | - | -", flush=True)
            while time.time() - started < total - 1:
                edge = watch.mark()
                length = min(segment, total - (edge - started))
                churner = attackers.churner(args.churn_rate, length)
                wrong, read = pairing_while(watch, truth, edge + length)
                forks, took = churn_rate(churner, timeout=120)
                attackers.end_all()
                window = watch.window(edge, watch.mark())
                median, p99 = window.scan_quantile(0.5), window.scan_quantile(0.99)
                print(
                    f"{(time.time() - started) / 60:.1f} | {window.scans} | {median * 1e3:.1f} "
                    f"| {p99 * 1e3:.1f} | {window.rss_end / MIB:.1f} "
                    f"| {window.ready_share * 100:.1f} | {forks / took:.0f} | {wrong}/{read}",
                    flush=True,
                )


def pairing_while(watch: AgentWatch, truth: PodTruth | None, until: float) -> tuple[int, int]:
    """(snapshots with the pod paired wrong, snapshots read) until `until` (a time.time())."""
    seen: set[float] = set()
    wrong = 0
    while time.time() < until:
        if truth is not None:
            pods = watch.agent.get("/api/v1/pods", timeout=10).json()
            if pods.get("taken_at") not in seen:
                seen.add(pods.get("taken_at"))
                wrong += bool(truth.problems(pods))
        time.sleep(1.0)
    return wrong, len(seen)


@contextlib.contextmanager
def seed_pod() -> Iterator[PodTruth | None]:
    if shutil.which("podman") is None:
        print("podman is not installed: no pod beside the agent")
        yield None
        return
    with kube_play(pod_yaml(POD, SEED_CONTAINERS)):
        yield PodTruth.of_podman_pod(POD)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("reliability: run as root (attackers make namespaces; the agent reads /proc)")
    # The agent is started as `nsinspect`, from this interpreter's environment.
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    # A SIGTERM unwinds through the `with`s below, so every process started is ended.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"reliability: signal {signum}"))
    with tempfile.TemporaryDirectory(prefix="nsinspect-attackers-") as tmp, seed_pod() as truth:
        binaries = build(Path(tmp))
        if args.soak_minutes > 0:
            soak(binaries, args, truth)
            return 0
        scenarios: list[tuple[str, Scenario, float]] = [
            ("baseline", baseline, args.seconds),
            ("FIFO race, renamed", fifo_race(False), args.seconds),
            ("FIFO race, executable", fifo_race(True), args.seconds),
            ("fd flood, renamed", fd_flood(False), args.seconds),
            ("fd flood, executable", fd_flood(True), args.seconds),
            ("churn", churn(args.churn_rate, args.churn_seconds), args.churn_seconds),
        ]
        print(f"{len(scenarios)} scenarios, a fresh agent each (interval {args.interval} s)")
        rows = [run_scenario(name, run, s, binaries, args) for name, run, s in scenarios]
    print("\n" + render(rows))
    print("removed every process the benchmark started")
    return 0


if __name__ == "__main__":
    sys.exit(main())
