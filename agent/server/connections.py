"""What the listeners share about their connections: the limits, the count of open connections
per client address (one client cannot take the whole connection limit), and why connections
were closed before they were answered."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum


class Rejection(StrEnum):
    """Why the server closed a connection before answering it."""

    PER_CLIENT = "per_client"
    HEADER_TOO_LARGE = "header_too_large"
    REQUEST_TIMEOUT = "request_timeout"
    IDLE_TIMEOUT = "idle_timeout"
    AT_CAPACITY = "at_capacity"  # closed to make room for a new one, or refused: all were busy


@dataclass(frozen=True)
class Limits:
    max_connections: int = 512
    max_connections_per_client: int = 32
    idle_timeout: int = 10
    request_timeout: int = 5
    max_header_bytes: int = 8192
    backlog: int = 1024
    threads: int = 4


class ConnectionGuard:
    """What the listeners share: open connections per client address, and rejections counted."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()
        self._rejected: Counter[Rejection] = Counter()

    def admit(self, peer: str) -> bool:
        with self._lock:
            if self._open[peer] >= self.limits.max_connections_per_client:
                self._rejected[Rejection.PER_CLIENT] += 1
                return False
            self._open[peer] += 1
            return True

    def release(self, peer: str) -> None:
        with self._lock:
            self._open[peer] -= 1
            if self._open[peer] <= 0:
                del self._open[peer]

    def reject(self, reason: Rejection) -> None:
        with self._lock:
            self._rejected[reason] += 1

    def rejected(self) -> dict[Rejection, int]:
        with self._lock:
            return {reason: self._rejected[reason] for reason in Rejection}

    def open_connections(self) -> int:
        with self._lock:
            return sum(self._open.values())
