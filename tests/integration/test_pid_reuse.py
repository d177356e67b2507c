"""A pod report enters namespaces by pids from the last scan: a pid reused since is refused.

The reuse is real: the pod's sandbox is ended, and a process in the test's own namespaces is
started at the same pid by setting the kernel's last pid (`ns_last_pid`), as a busy node does by
chance. The report must say the pod changed, never show another process's network as the pod's.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from harness.synthetic import start_pod
from nsinspect.agent.namespace_contents.collect import pod_details
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

pytestmark = pytest.mark.root


def start_at_pid(pid: int, attempts: int = 50) -> subprocess.Popen[bytes]:
    """A `sleep` in our own namespaces with exactly this pid (other forks may race us)."""
    for _ in range(attempts):
        with open("/proc/sys/kernel/ns_last_pid", "w") as last_pid:
            last_pid.write(str(pid - 1))
        process = subprocess.Popen(["sleep", "60"])
        if process.pid == pid:
            return process
        process.kill()
        process.wait()
    pytest.skip(f"could not start a process at pid {pid} in {attempts} attempts")


def test_a_reused_sandbox_pid_is_a_clear_error_never_another_process(tmp_path: Path) -> None:
    pod = start_pod(tmp_path, containers=1)
    reused = None
    try:
        snapshot = SnapshotBuilder(ScanConfig()).build()
        seen = next(p for p in snapshot.pods if p.sandbox.pid == pod.holder_pid)
        assert pod_details(seen, snapshot).network.interfaces  # its own loopback, at least
        holder = pod.holder_pid
        pod.holder.send_signal(signal.SIGKILL)
        pod.holder.wait()

        gone = pod_details(seen, snapshot)
        assert gone.network.interfaces == () and gone.uts.hostname is None
        assert "has exited since the scan" in gone.network.unavailable["network"]

        reused = start_at_pid(holder)
        assert os.readlink(f"/proc/{holder}/ns/net") == os.readlink("/proc/self/ns/net")
        details = pod_details(seen, snapshot)
        reason = details.network.unavailable["network"]
        assert f"pid {holder} is no longer the process the scan saw" in reason
        assert details.network.interfaces == () and details.network.listening == ()
        assert details.uts.hostname is None and details.uts.unavailable["uts"] == reason
        assert details.ipc.shm_segments is None
    finally:
        if reused is not None:
            reused.kill()
            reused.wait()
        pod.stop()
