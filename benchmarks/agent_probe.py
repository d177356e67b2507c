"""The real `nsinspect agent` under the benchmark's load: its memory, and `/metrics` latency.

The agent runs as a subprocess of its own process group on a free loopback port, scanning on a
short interval so that scrapes meet scans in progress, as they would on a busy node.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SCANS_BEFORE_SCRAPING = 3


@dataclass(frozen=True)
class AgentResult:
    scans: int  # scans done when the scrapes ended
    rss_mib: float  # median VmRSS, sampled after each scrape
    rss_max_mib: float  # the largest of those samples
    hwm_mib: float  # VmHWM at the end: the peak resident set since the agent started
    scrapes: int
    metrics_bytes: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def nsinspect_command() -> list[str]:
    """The `nsinspect` script of the environment this benchmark runs in."""
    beside = Path(sys.executable).with_name("nsinspect")
    found = str(beside) if beside.exists() else shutil.which("nsinspect")
    if found is None:
        raise RuntimeError("the nsinspect command is not installed (pip install -e .)")
    return [found]


def probe_agent(
    workdir: Path, interval: float, scrapes: int, timeout: float = 300.0
) -> AgentResult:
    port = free_port()
    log_path = workdir / "agent.log"
    with open(log_path, "wb") as log:
        agent = subprocess.Popen(
            [*nsinspect_command(), "agent", "--bind", "127.0.0.1", "--port", str(port),
             "--interval", str(interval), "--no-kubernetes", "--log-level", "info"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + timeout
        while scans_done(url, agent, log_path) < SCANS_BEFORE_SCRAPING:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the agent did not scan {SCANS_BEFORE_SCRAPING} times")
            time.sleep(0.2)
        latencies, rss, size = [], [], 0
        for _ in range(scrapes):
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as reply:
                size = len(reply.read())
            latencies.append(time.perf_counter() - started)
            rss.append(memory_mib(agent.pid)[0])
        hwm = memory_mib(agent.pid)[1]
        scans = scans_done(url, agent, log_path)
    finally:
        stop_group(agent)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return AgentResult(
        scans=scans,
        rss_mib=statistics.median(rss),
        rss_max_mib=max(rss),
        hwm_mib=hwm,
        scrapes=len(latencies),
        metrics_bytes=size,
        p50_ms=statistics.median(latencies) * 1e3,
        p99_ms=cuts[98] * 1e3,
        max_ms=max(latencies) * 1e3,
    )


def scans_done(url: str, agent: subprocess.Popen[bytes], log_path: Path) -> int:
    """The agent's own count of finished scans (its scan-duration histogram), 0 before any."""
    if agent.poll() is not None:
        raise RuntimeError(f"the agent exited: {log_path.read_text(errors='replace')[-2000:]}")
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            text = reply.read().decode()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("nsinspect_scan_duration_seconds_count "):
            return int(float(line.split()[1]))
    return 0


def memory_mib(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM of a process, in MiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the agent; if it has not exited 10 s later, SIGKILL its whole process group
    (while it is alive its pid, the group's id, cannot have been reused)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
