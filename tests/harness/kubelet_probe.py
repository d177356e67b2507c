"""A kubelet's probe of the agent, for the attack tests (issue K): `HealthProbe` asks /healthz
every 50 ms from its own source address (kubelet probes come from the node's address, a flood
from a pod's), each time on a new connection, and keeps each answer's latency and status.
"""

from __future__ import annotations

import http.client
import multiprocessing
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.http_attackers import MAX_SECONDS, loopback

PROBE_SOURCE = "127.0.0.2"  # the node's, where kubelet probes come from


def percentile(values: Iterable[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when asked
    seconds: float
    status: int | None  # None: no answer (refused, timed out, reset)
    error: str = ""


def ask(port: int, source: str, path: str, timeout: float) -> Answer:
    started = time.monotonic()
    client = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    try:
        client.request("GET", path)
        reply = client.getresponse()
        reply.read()
        return Answer(started, time.monotonic() - started, reply.status)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(started, time.monotonic() - started, None, f"{type(exc).__name__}: {exc}")
    finally:
        client.close()


@dataclass(frozen=True)
class Asking:
    port: int
    source: str
    path: str
    period: float
    timeout: float


def ask_until(asking: Asking, stop: Any, sink: Any) -> None:
    """The prober process: asks every `period` s (start to start) until `stop` (or for
    MAX_SECONDS at the most), then sends its answers down `sink`."""
    answers = []
    next_at = time.monotonic()
    ends = next_at + MAX_SECONDS
    while not stop.is_set() and time.monotonic() < ends:
        answers.append(ask(asking.port, asking.source, asking.path, asking.timeout))
        next_at = max(next_at + asking.period, time.monotonic())
        stop.wait(next_at - time.monotonic())
    sink.send(answers)
    sink.close()


@dataclass
class HealthProbe:
    """GET `path` every `period` s from `source`, each with its own connection, like kubelet.

    The asking is done by a process of its own (spawned): a flood driven from this process
    holds its interpreter lock, and the probes would time this process rather than the agent.
    """

    port: int
    source: str = PROBE_SOURCE
    path: str = "/healthz"
    period: float = 0.05
    timeout: float = 1.0
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        loopback(self.source)
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._answers, sink = context.Pipe(duplex=False)
        asking = Asking(self.port, self.source, self.path, self.period, self.timeout)
        self._asker = context.Process(
            target=ask_until, args=(asking, self._stop, sink), name="health-probe", daemon=True
        )

    def __enter__(self) -> HealthProbe:
        self._asker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._answers.poll(self.timeout + 10):
            self.answers = self._answers.recv()
        self._asker.join(timeout=5)
        if self._asker.is_alive():
            self._asker.kill()
            self._asker.join()
        self._answers.close()

    def latencies(self) -> list[float]:
        return [a.seconds for a in self.answers]

    @property
    def failures(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 200]

    def summary(self) -> str:
        seconds = self.latencies()
        return (
            f"{len(seconds)} probes, p50 {percentile(seconds, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(seconds, 0.99) * 1000:.1f} ms, "
            f"max {max(seconds, default=0) * 1000:.1f} ms, "
            f"{len(self.failures)} failed"
        )
