"""A running agent seen from outside, as a kubelet's probes and a scraper see it, for the
reliability tests and benchmarks/reliability.py.

`AgentWatch` probes on a thread every `period` seconds: /readyz and /healthz (status and
latency), the agent's VmRSS, and its scan-duration histogram (`_count` is the scans done, `_sum`
their total time). A `Window` is what the probes saw between two moments; the duration of each
scan in it comes from the agent's own debug log ("scan done"). `PodTruth` is one podman pod as
podman and readlink(1) describe it, for checking what the agent says about that pod.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.agent_process import AgentProcess, start_agent
from harness.podman import container_inspect, pod_inspect
from harness.synthetic import readlink_inode
from nsinspect.agent.model import NS_TYPES

SCANS = "nsinspect_scan_duration_seconds_count"
SCAN_SECONDS = "nsinspect_scan_duration_seconds_sum"
MIB = 1024 * 1024


def metric_values(text: str) -> dict[str, float]:
    """Every sample of an exposition by its name with labels, as written."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for pid {pid}")


def scan_durations(log_path: Path) -> list[tuple[float, float]]:
    """(when, seconds) of every scan the agent logged as done (it logs them at debug)."""
    scans = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("message") == "scan done":
            when = datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
            scans.append((when, float(entry["duration_seconds"])))
    return scans


def tracebacks(log_path: Path) -> list[str]:
    """The log lines that carry a Python traceback."""
    return [
        line for line in log_path.read_text(errors="replace").splitlines() if "Traceback" in line
    ]


@dataclass(frozen=True)
class Probe:
    at: float  # time.time()
    ready: bool
    healthy: bool
    healthz_seconds: float
    rss_bytes: int
    scans: int
    scan_seconds: float


@dataclass(frozen=True)
class Window:
    probes: list[Probe]
    durations: list[float]  # each scan that finished in the window, from the log

    @property
    def scans(self) -> int:
        return self.probes[-1].scans - self.probes[0].scans

    @property
    def mean_scan_seconds(self) -> float:
        """From the histogram: its sum over its count, within the window."""
        done = self.scans
        spent = self.probes[-1].scan_seconds - self.probes[0].scan_seconds
        return spent / done if done else float("inf")

    def scan_quantile(self, q: float) -> float:
        return quantile(self.durations, q) if self.durations else float("inf")

    @property
    def ready_share(self) -> float:
        return sum(p.ready for p in self.probes) / len(self.probes)

    @property
    def healthy_share(self) -> float:
        return sum(p.healthy for p in self.probes) / len(self.probes)

    @property
    def healthz_p99(self) -> float:
        return quantile([p.healthz_seconds for p in self.probes], 0.99)

    @property
    def rss_start(self) -> int:
        return self.probes[0].rss_bytes

    @property
    def rss_end(self) -> int:
        return self.probes[-1].rss_bytes

    def not_ready(self) -> list[Probe]:
        return [p for p in self.probes if not p.ready]


def quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


@dataclass
class AgentWatch:
    """Probes `agent` every `period` s on a thread while in the `with`."""

    agent: AgentProcess
    period: float = 0.2
    probes: list[Probe] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> AgentWatch:
        self.probes.append(self.probe())
        self._thread = threading.Thread(target=self._run, name="agent-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.probes.append(self.probe())

    def probe(self) -> Probe:
        at = time.time()
        ready = self._status("/readyz") == 200
        started = time.perf_counter()
        healthy = self._status("/healthz") == 200
        healthz_seconds = time.perf_counter() - started
        values = self._metrics()
        return Probe(
            at, ready, healthy, healthz_seconds, rss_bytes(self.agent.process.pid),
            int(values.get(SCANS, 0)), values.get(SCAN_SECONDS, 0.0),
        )  # fmt: skip

    def _status(self, path: str) -> int:
        try:
            return self.agent.get(path, timeout=5).status
        except OSError:
            return 0

    def _metrics(self) -> dict[str, float]:
        try:
            return metric_values(self.agent.metrics())
        except OSError:
            return {}

    def mark(self) -> float:
        """Now, after a fresh probe: the edge of a window."""
        self.probes.append(self.probe())
        return self.probes[-1].at

    def window(self, since: float, until: float) -> Window:
        probes = sorted(
            (p for p in list(self.probes) if since <= p.at <= until), key=lambda p: p.at
        )
        durations = [s for at, s in scan_durations(self.agent.log_path) if since <= at <= until]
        return Window(probes, durations)

    def wait_scans(self, count: int, timeout: float) -> None:
        """Until `count` more scans are done, or TimeoutError."""
        target = self.probe().scans + count
        deadline = time.monotonic() + timeout
        while self.probe().scans < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} scans in {timeout} s")
            time.sleep(0.05)


@contextmanager
def watched_agent(
    workdir: Path,
    *args: str,
    interval: float,
    global_args: tuple[str, ...] = (),
    period: float = 0.2,
) -> Iterator[AgentWatch]:
    """The real agent (no Kubernetes API), ready, probed while in the `with`, then stopped."""
    agent = start_agent(
        workdir, "--no-kubernetes", *args, interval=interval, global_args=global_args
    )
    try:
        agent.wait_ready(timeout=30)
        with AgentWatch(agent, period) as watch:
            yield watch
    finally:
        agent.stop()


@dataclass(frozen=True)
class PodTruth:
    """A podman pod as `podman inspect` and readlink(1) describe it."""

    name: str
    uid: str
    sandbox_id: str
    sandbox_pid: int
    containers: dict[str, int]  # id -> pid
    inodes: dict[int, dict[str, int]]  # pid -> type -> inode

    @classmethod
    def of_podman_pod(cls, name: str) -> PodTruth:
        inspected = pod_inspect(name)
        infra = inspected["InfraContainerID"]
        pids = {
            c["Id"]: container_inspect(c["Id"])["State"]["Pid"] for c in inspected["Containers"]
        }
        inodes = {pid: {t: readlink_inode(pid, t) for t in NS_TYPES} for pid in pids.values()}
        apps = {cid: pid for cid, pid in pids.items() if cid != infra}
        return cls(name, inspected["Id"], infra, pids[infra], apps, inodes)

    def problems(self, pod_list: dict[str, Any]) -> list[str]:
        """How the agent's PodList is wrong about this pod (an empty list: it is right)."""
        found = [
            p
            for p in pod_list["items"]
            if p["pod"]["name"] == self.name and p["pod"]["runtime"] == "podman"
        ]
        if len(found) != 1:
            return [f"{len(found)} podman pods named {self.name}"]
        pod = found[0]
        wrong = []
        if (pod["pod"]["uid"], pod["sandbox"]["id"]) != (self.uid, self.sandbox_id):
            wrong.append(f"pod {pod['pod']['uid']} sandbox {pod['sandbox']['id']}")
        if pod["sandbox"]["pid"] != self.sandbox_pid:
            wrong.append(f"sandbox pid {pod['sandbox']['pid']} != {self.sandbox_pid}")
        seen = {c["id"]: c for c in pod["containers"]}
        if set(seen) != set(self.containers):
            return [*wrong, f"containers {sorted(seen)} != {sorted(self.containers)}"]
        sandbox = self.inodes[self.sandbox_pid]
        for cid, pid in self.containers.items():
            container = seen[cid]
            if container["pid"] != pid:
                wrong.append(f"{cid[:12]} pid {container['pid']} != {pid}")
            for ns_type, inode in self.inodes[pid].items():
                verdict = container["namespaces"][ns_type]
                shared = inode == sandbox[ns_type]
                if (verdict["inode"], verdict["shared_with_sandbox"]) != (inode, shared):
                    wrong.append(f"{cid[:12]} {ns_type} {verdict} != {inode} shared {shared}")
        return wrong
