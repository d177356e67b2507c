"""Issue K in figures: the agent's HTTP side under the issue's floods, flood by flood.

Run as root from the repository (about two minutes; it prints numbers and asserts nothing):

    .venv/bin/python benchmarks/bench_server_attacks.py [--seconds 10] [--pre-k]

Each flood gets a fresh `nsinspect agent` (no Kubernetes API, interval 1 s, the server's default
limits unless told) and the clients of tests/harness/http_attackers.py on loopback; a prober asks
/healthz every 50 ms from 127.0.0.2 (the node's address) during the flood and for --after seconds
after the flood lets go, and VmRSS is sampled every 50 ms. Floods: the oversized headers (20
clients, 98 headers of 65 KB, again and again for --seconds); 4,000 idle connections from one
address (a pod's), then from 125 addresses (32 each: past the connection cap, not the per-client
one), each held until the server closes them or --hold seconds; 20 slowloris connections. A row:
server and scanner RSS start -> max, /healthz p50/p99 and failures during the flood and after,
the 431s, and connections the server closed at once and later (by a timeout). With --pre-k the
same floods are run against the agent of commit fe81b56 (one process, wsgiref), taken from git
with `git archive` into a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the harness the attack tests use

from harness.agent_process import free_port, start_agent, stop_process  # noqa: E402
from harness.http_attackers import (  # noqa: E402
    MAX_CONNECTIONS,
    Flood,
    in_waves,
    oversized_headers,
    raise_fd_limit,
    unfinished_request,
)
from harness.kubelet_probe import HealthProbe, percentile  # noqa: E402
from harness.process_facts import RssSampler, listener_pids  # noqa: E402

PRE_K_COMMIT = "fe81b56"
SPREAD_SOURCES = tuple(f"127.0.1.{n}" for n in range(1, 126))  # 125 x 32 = 4,000


@dataclass(frozen=True)
class Target:
    """A running agent: its metrics port, the pid serving it and the scanner's pid."""

    port: int
    server_pid: int
    scanner_pid: int


@dataclass(frozen=True)
class Row:
    flood: str
    rss: RssSampler
    target: Target
    during: HealthProbe
    after: HealthProbe
    answered_431: int
    requests: int
    closed_at_once: int  # within a second of connecting
    closed_later: int

    def render(self) -> str:
        server = self.rss.mib(self.target.server_pid)
        scanner = self.rss.mib(self.target.scanner_pid)
        return (
            f"| {self.flood} | {server[0]:.1f} -> {server[1]:.1f} "
            f"| {scanner[0]:.1f} -> {scanner[1]:.1f} | {probes(self.during)} "
            f"| {probes(self.after)} | {self.answered_431} of {self.requests} "
            f"| {self.closed_at_once} | {self.closed_later} |"
        )


HEADER = (
    "| flood | server RSS MiB | scanner RSS MiB | /healthz during: p50 / p99 ms, failed "
    "| /healthz after | 431s | closed < 1 s | closed later |\n|---|---|---|---|---|---|---|---|"
)


def probes(probe: HealthProbe) -> str:
    seconds = probe.latencies()
    if not seconds:
        return "-"
    return (
        f"{percentile(seconds, 0.5) * 1e3:.1f} / {percentile(seconds, 0.99) * 1e3:.1f}, "
        f"{len(probe.failures)} of {len(seconds)}"
    )


Attack = Callable[[int, argparse.Namespace], list[Flood]]


def header_flood(port: int, args: argparse.Namespace) -> list[Flood]:
    payload = oversized_headers(port)
    return in_waves(lambda: Flood(port, 20, payload, seconds=60), args.seconds, wave_seconds=5)


def idle_flood(sources: tuple[str, ...]) -> Attack:
    def attack(port: int, args: argparse.Namespace) -> list[Flood]:
        with Flood(port, MAX_CONNECTIONS, sources=sources, seconds=300) as flood:
            flood.wait_closed(args.hold)
        return [flood]

    return attack


def slowloris(port: int, args: argparse.Namespace) -> list[Flood]:
    payload = unfinished_request(port)
    with Flood(port, 20, payload, trickle=True, sources=("127.0.0.8",), seconds=120) as slow:
        slow.wait_closed(min(args.hold, args.request_timeout + 5))
    return [slow]


def run_flood(name: str, attack: Attack, target: Target, args: argparse.Namespace) -> Row:
    with RssSampler([target.server_pid, target.scanner_pid]) as rss:
        with HealthProbe(target.port) as during:
            floods = attack(target.port, args)
        with HealthProbe(target.port) as after:
            time.sleep(args.after)
    connections = [c for flood in floods for c in flood.connections]
    closed = [c.closed_after for c in connections if c.closed_after is not None]
    return Row(
        name,
        rss,
        target,
        during,
        after,
        answered_431=sum(c.status == 431 for c in connections),
        requests=len(connections),
        closed_at_once=sum(after < 1.0 for after in closed),
        closed_later=sum(after >= 1.0 for after in closed),
    )


@contextmanager
def split_agent(workdir: Path, args: argparse.Namespace) -> Iterator[Target]:
    limits = ["--idle-timeout", f"{args.idle_timeout:g}"]
    limits += ["--request-timeout", f"{args.request_timeout:g}"]
    agent = start_agent(workdir, "--no-kubernetes", *limits, interval=1.0)
    try:
        agent.wait_ready(timeout=60)
        (server_pid,) = listener_pids(agent.port)
        yield Target(agent.port, server_pid, agent.process.pid)
    finally:
        agent.stop()


@contextmanager
def pre_k_agent(workdir: Path, args: argparse.Namespace) -> Iterator[Target]:
    """The agent of PRE_K_COMMIT: its agent/ and cli/ as the `nsinspect` package, ahead of ours."""
    tree = workdir / "pre-k"
    package = tree / "nsinspect"
    package.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", PRE_K_COMMIT, "agent", "cli"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(package)], input=archive, check=True)
    port = free_port()
    command = [sys.executable, "-c", "import sys; from nsinspect.cli.main import main; main()"]
    command += ["agent", "--no-kubernetes", "--bind", "127.0.0.1", "--port", str(port)]
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    with open(workdir / "pre-k.log", "wb") as log:
        process = subprocess.Popen(
            [*command, "--interval", "1"], env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not ready(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / "pre-k.log").read_text(errors="replace"))
            time.sleep(0.2)
        yield Target(port, process.pid, process.pid)
    finally:
        stop_process(process, timeout=15)


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="the header flood's length")
    parser.add_argument("--after", type=float, default=5.0, help="probing after a flood ends")
    parser.add_argument("--hold", type=float, default=30.0, help="idle floods' longest hold")
    parser.add_argument("--idle-timeout", type=float, default=10.0, help="the server's flag")
    parser.add_argument("--request-timeout", type=float, default=5.0, help="the server's flag")
    parser.add_argument("--pre-k", action="store_true", help=f"also the agent of {PRE_K_COMMIT}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit(
            "bench_server_attacks: run as root (the agent reads /proc; its server drops to 65534)"
        )
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"signal {signum}"))
    raise_fd_limit(MAX_CONNECTIONS)
    floods: list[tuple[str, Attack]] = [
        ("98 headers of 65 KB x 20 clients", header_flood),
        ("4,000 idle, one address", idle_flood(("127.0.0.1",))),
        ("4,000 idle, 125 addresses", idle_flood(SPREAD_SOURCES)),
        ("20 slowloris", slowloris),
    ]
    agents = [("split agent (issue K)", split_agent)]
    if args.pre_k:
        agents.append((f"pre-K agent ({PRE_K_COMMIT}, one process)", pre_k_agent))
    for title, agent in agents:
        rows = []
        for name, attack in floods:
            workdir = tempfile.TemporaryDirectory(prefix="nsi-bench-attacks-")
            with workdir as tmp, agent(Path(tmp), args) as target:
                print(f"  {title}: {name}", flush=True)
                rows.append(run_flood(name, attack, target, args))
        print(f"\n{title}; idle timeout {args.idle_timeout:g} s, request timeout "
              f"{args.request_timeout:g} s; /healthz every 50 ms from 127.0.0.2, "
              f"{args.after:g} s after each flood too\n{HEADER}")  # fmt: skip
        print("\n".join(row.render() for row in rows), flush=True)
    print("removed every process and connection the benchmark started")
    return 0


if __name__ == "__main__":
    sys.exit(main())
