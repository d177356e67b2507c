"""What the kernel says about a running process, for the tests of the agent's two processes
(issue K): its VmRSS over time (`RssSampler`), its sockets, and which process listens on a TCP
port, found by the socket's inode (/proc/net/tcp{,6} against /proc/<pid>/fd), never by name.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

MIB = 1024 * 1024


def vm_rss(pid: int) -> int | None:
    """VmRSS in bytes, None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


@dataclass
class Periodic:
    """Calls `action` every `period` s (start to start) on a thread between start() and stop()."""

    action: Callable[[], None]
    period: float
    name: str
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            assert not self._thread.is_alive(), f"{self.name} did not end"

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.action()
            next_at = max(next_at + self.period, time.monotonic())
            self._stop.wait(next_at - time.monotonic())


@dataclass
class RssSampler:
    """The VmRSS of each pid every `period` s while in the `with`: the first and the largest."""

    pids: Sequence[int]
    period: float = 0.05
    first: dict[int, int] = field(default_factory=dict)
    largest: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sampling = Periodic(self.sample, self.period, "rss-sampler")

    def __enter__(self) -> RssSampler:
        self._sampling.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sampling.stop()
        self.sample()

    def sample(self) -> None:
        for pid in self.pids:
            rss = vm_rss(pid)
            if rss is not None:
                self.first.setdefault(pid, rss)
                self.largest[pid] = max(rss, self.largest.get(pid, 0))

    def mib(self, pid: int) -> tuple[float, float]:
        """(first, largest) VmRSS of `pid` in MiB."""
        return self.first.get(pid, 0) / MIB, self.largest.get(pid, 0) / MIB


@dataclass(frozen=True)
class NetSocket:
    protocol: str  # tcp, tcp6, udp, udp6
    local_address: str
    local_port: int
    remote_address: str
    listening: bool  # TCP state 0A
    inode: int


def net_sockets() -> list[NetSocket]:
    """Every socket of this network namespace, from /proc/net/{tcp,tcp6,udp,udp6}."""
    found = []
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/net/{protocol}") as table:
            next(table)
            for line in table:
                fields = line.split()
                address, port = fields[1].rsplit(":", 1)
                remote = kernel_address(fields[2].rsplit(":", 1)[0])
                listening = fields[3] == "0A"
                found.append(
                    NetSocket(
                        protocol, kernel_address(address), int(port, 16), remote, listening,
                        int(fields[9]),
                    )
                )  # fmt: skip
    return found


def kernel_address(hex_address: str) -> str:
    """An address as /proc/net prints it: 32-bit words in host (little-endian) byte order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets among a process's open fds."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def connections_from(pid: int, peer: str) -> int:
    """How many TCP connections with `peer` the process holds open (accepted, in its fds)."""
    held = socket_inodes(pid)
    return sum(
        1 for s in net_sockets() if s.inode in held and s.remote_address == peer and not s.listening
    )


def listener_pids(port: int) -> set[int]:
    """The processes holding a TCP socket that listens on `port` (any address)."""
    inodes = {s.inode for s in net_sockets() if s.listening and s.local_port == port and s.inode}
    owners = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if socket_inodes(int(entry)) & inodes:
                    owners.add(int(entry))
            except OSError:  # gone, or not ours to read
                continue
    return owners


def status_fields(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as name -> value (Uid, Gid, CapEff, NoNewPrivs, ...)."""
    with open(f"/proc/{pid}/status") as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)
