"""Synthetic pods made of real namespaces: a pause-like holder plus containers that join it.

The holder is `unshare --net --ipc --uts` running a copy of sleep named `pause` (so its comm reads
like a pause binary); each container is `nsenter` into the holder's net/ipc/uts, then `unshare`
into a mount and pid namespace of its own, as a container runtime would set it up.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def readlink_inode(pid: int, ns_type: str) -> int:
    """The independent truth: what readlink(1) says, parsed."""
    target = subprocess.run(
        ["readlink", f"/proc/{pid}/ns/{ns_type}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return int(target[target.index("[") + 1 : -1])


def wait_for(predicate: object, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(p) for p in children.read().split()]
    except OSError:
        return []


@dataclass
class SyntheticPod:
    holder: subprocess.Popen[bytes]
    containers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def holder_pid(self) -> int:
        return self.holder.pid

    def container_pids(self) -> list[int]:
        """The innermost process of each container (the one in the new pid namespace)."""
        pids = []
        for container in self.containers:
            children = _children(container.pid)
            pids.append(children[0] if children else container.pid)
        return pids

    def stop(self) -> None:
        for process in [*self.containers, self.holder]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def pause_binary(directory: Path) -> str:
    """A copy of sleep called `pause`: its comm then reads like a Kubernetes pause binary."""
    path = directory / "pause"
    if not path.exists():
        sleep = shutil.which("sleep")
        assert sleep is not None
        shutil.copy(sleep, path)
    return str(path)


def start_pod(directory: Path, containers: int = 2, share: str = "niu") -> SyntheticPod:
    """A holder plus `containers` processes joining its namespaces (`share`: nsenter's -n -i -u)."""
    holder = subprocess.Popen(
        ["unshare", "--net", "--ipc", "--uts", pause_binary(directory), "infinity"],
        start_new_session=True,
    )
    # Until unshare has exec'd the pause binary, the holder is not yet in its namespaces.
    wait_for(lambda: _comm(holder.pid) == "pause", what="holder to start")
    pod = SyntheticPod(holder)
    join = [f"-{flag}" for flag in share]
    for _ in range(containers):
        container = subprocess.Popen(
            [
                "nsenter",
                "-t",
                str(holder.pid),
                *join,
                "--",
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                "sleep",
                "infinity",
            ],
            start_new_session=True,
        )
        pod.containers.append(container)
        wait_for(
            lambda c=container: any(_comm(p) == "sleep" for p in _children(c.pid)),
            what="container to start",
        )
    return pod


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""
