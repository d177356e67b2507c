"""The real `nsinspect agent`, run as a subprocess on free loopback ports: the scanner is the
process started, the unprivileged server its child; /metrics and the probes on `port`, the JSON
API on 127.0.0.1:`api_port`."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class AgentProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    api_port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def server_pid(self) -> int:
        """The server: the scanner's child process."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return int(children.split()[0])

    def get(
        self,
        path: str,
        method: str = "GET",
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """From the API port for /api/..., else from the metrics port."""
        base = self.api_url if path.startswith("/api/") else self.url
        request = urllib.request.Request(base + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return Response(reply.status, reply.headers.get("Content-Type", ""), reply.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers.get("Content-Type", ""), error.read())

    def metrics(self) -> str:
        return self.get("/metrics").body.decode()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"agent exited: {self.log()}")
            try:
                if self.get("/readyz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"agent not ready after {timeout} s: {self.log()}")

    def wait_for_scan_after(self, moment: float, timeout: float = 20.0) -> None:
        """Until a snapshot taken after `moment` (a time.time()) is served."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listing = self.get("/api/v1/pods")
            if listing.status == 200 and listing.json()["taken_at"] > moment:
                return
            time.sleep(0.1)
        raise TimeoutError("no new scan")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> float:
        """SIGTERM; returns how long the agent took to exit."""
        return stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> float:
    """SIGTERM, SIGKILL after `timeout` seconds; how long the process took to exit."""
    started = time.monotonic()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return time.monotonic() - started


def start_agent(
    tmp_path: Path,
    *args: str,
    interval: float = 1.0,
    global_args: tuple[str, ...] = (),
    prefix: tuple[str, ...] = (),
) -> AgentProcess:
    """`prefix`: a command that runs the agent (setpriv, say), ending in `--` where it needs."""
    port, api_port = free_port(), free_port()
    log_path = tmp_path / f"agent-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*prefix, "nsinspect", *global_args, "agent", "--bind", "127.0.0.1",
             "--port", str(port), "--api-port", str(api_port), "--interval", str(interval),
             "--log-level", "debug", *args],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return AgentProcess(process, port, log_path, api_port)
