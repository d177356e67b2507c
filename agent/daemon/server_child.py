"""`nsinspect agent` on a plain node: the scanner starts the server as a child without privileges.

The child is a fresh interpreter (`python -m nsinspect.agent.server`), not a fork: it holds none of
the scanner's memory, modules or open files. Running as root, it is told `--drop-to 65534:65534`:
it imports what it serves with and binds its ports, then gives up its capabilities (bounding set
too), its groups and uid 0 before it reads a byte from the network. It starts as root rather than
as 65534 because the installation may sit where uid 65534 cannot read (a virtualenv in /root).
Running as another user it keeps that user: it has nothing to drop, which the server checks. It
dies with the scanner: it stops when the scanner's end of a pipe (`--parent-fd`) closes.

Checking tokens needs the cluster's API; uid 65534 cannot read root's kubeconfig, so the scanner
passes what its kubeconfig yields (server, token, CA, client certificate) through a pipe that only
the child holds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exchange.layout import SERVER_GID

LOG = logging.getLogger("nsinspect.agent")
SERVER_UID = 65534  # nobody, as the DaemonSet's server container runs (its group: layout's)
STOP_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """What the server is told; the flags of `nsinspect-server`."""

    results_dir: Path
    bind: str = "0.0.0.0"
    port: int = 9977
    api_port: int = 9978
    metrics_auth: bool = False
    api_auth: str = "optional"
    log_level: str = "info"
    limits: dict[str, float] = field(default_factory=dict)  # flag name -> value

    def arguments(self) -> list[str]:
        arguments = ["--results-dir", str(self.results_dir), "--bind", self.bind]
        arguments += ["--port", str(self.port), "--api-port", str(self.api_port)]
        arguments += ["--api-auth", self.api_auth, "--log-level", self.log_level]
        if self.metrics_auth:
            arguments.append("--metrics-auth")
        for flag, value in sorted(self.limits.items()):
            arguments += [f"--{flag}", f"{value:g}"]
        return arguments


def results_directory() -> Path:
    """A fresh results directory for this run: under /run when root (memory, as the DaemonSet's
    emptyDir). The scanner's results writer gives it to the server's group before the server
    starts (without CAP_CHOWN it cannot, and the server says it cannot read it and exits)."""
    parent = "/run" if os.geteuid() == 0 and os.path.isdir("/run") else None
    return Path(tempfile.mkdtemp(prefix="nsinspect-", dir=parent))


def remove_results(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


class ServerChild:
    """The server process: started once the scanner's results directory exists, stopped with
    the scanner; `on_exit` is called if it ends on its own."""

    def __init__(self, options: ServerOptions, credentials: dict[str, Any] | None) -> None:
        self.options = options
        self.credentials = credentials
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._parent_end = -1  # the write end of the server's --parent-fd pipe: closing it stops it

    def start(self, on_exit: Callable[[int], None]) -> None:
        command = [sys.executable, "-m", "nsinspect.agent.server", *self.options.arguments()]
        parent_read, self._parent_end = os.pipe()
        command += ["--parent-fd", str(parent_read)]
        read_end = write_end = -1
        if self.credentials is not None:
            read_end, write_end = os.pipe()
            command += ["--kube-credentials-fd", str(read_end)]
        if os.geteuid() == 0:
            command += ["--drop-to", f"{SERVER_UID}:{SERVER_GID}"]
        passed = (parent_read, read_end) if read_end >= 0 else (parent_read,)
        try:
            self.process = subprocess.Popen(command, pass_fds=passed)
        finally:
            for fd in passed:
                os.close(fd)
        if write_end >= 0:
            with os.fdopen(write_end, "w") as pipe, contextlib.suppress(BrokenPipeError):
                json.dump(self.credentials, pipe)  # the server died at once: _watch says so
        LOG.info("server started", extra={"fields": {"pid": self.process.pid}})
        threading.Thread(target=self._watch, args=(on_exit,), name="server", daemon=True).start()

    def _watch(self, on_exit: Callable[[int], None]) -> None:
        assert self.process is not None
        code = self.process.wait()
        if not self._stopping:
            LOG.error("the server exited on its own", extra={"fields": {"exit_code": code}})
            on_exit(code)

    def stop(self) -> None:
        """Close the pipe the server watches, then wait. A signal is the last resort, and may
        not be allowed: a scanner that is uid 0 without CAP_KILL cannot signal uid 65534."""
        self._stopping = True
        if self._parent_end >= 0:
            os.close(self._parent_end)
            self._parent_end = -1
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(PermissionError):
                self.process.kill()
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                LOG.error("the server did not stop", extra={"fields": {"pid": self.process.pid}})
