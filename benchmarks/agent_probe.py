"""The real `nsinspect agent` under the benchmark's load: its memory, and `/metrics` latency.

The agent runs as a subprocess of its own process group on free loopback ports, scanning on a
short interval so that scrapes meet scans in progress, as they would on a busy node. It is two
processes: the scanner (the process started) and the server (its child); each one's memory is
measured, and so are the bytes of the results directory, which in the DaemonSet is an in-memory
volume charged to the scanner's container.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
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
    server_rss_max_mib: float  # the server's largest VmRSS sample
    server_hwm_mib: float
    results_max_mib: float  # the largest size of the results directory (every generation kept)


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
    port, api_port = free_port(), free_port()
    log_path = workdir / "agent.log"
    # Where uid 65534 may cross to it (the work directory is private); the scanner gives it to
    # the server's group, as it does the one it makes.
    results = Path(tempfile.mkdtemp(prefix="nsinspect-bench-", dir="/run"))
    with open(log_path, "wb") as log:
        agent = subprocess.Popen(
            [*nsinspect_command(), "agent", "--bind", "127.0.0.1", "--port", str(port),
             "--api-port", str(api_port), "--results-dir", str(results),
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
        server = server_pid(agent.pid)
        latencies, rss, server_rss, results_mib, size = [], [], [], [], 0
        for _ in range(scrapes):
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as reply:
                size = len(reply.read())
            latencies.append(time.perf_counter() - started)
            rss.append(memory_mib(agent.pid)[0])
            server_rss.append(memory_mib(server)[0])
            results_mib.append(directory_mib(results))
        hwm, server_hwm = memory_mib(agent.pid)[1], memory_mib(server)[1]
        scans = scans_done(url, agent, log_path)
    finally:
        stop_group(agent)
        shutil.rmtree(results, ignore_errors=True)
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
        server_rss_max_mib=max(server_rss),
        server_hwm_mib=server_hwm,
        results_max_mib=max(results_mib),
    )


def server_pid(scanner: int) -> int:
    """The server: the scanner's child process."""
    return int(Path(f"/proc/{scanner}/task/{scanner}/children").read_text().split()[0])


def directory_mib(path: Path) -> float:
    """The bytes of every file under `path` (a file removed while counted counts nothing)."""
    total = 0
    for entry in path.rglob("*"):
        try:
            total += entry.lstat().st_size if entry.is_file() else 0
        except OSError:
            continue
    return total / (1 << 20)


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
