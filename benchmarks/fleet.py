"""Thousands of synthetic pods, started fast and removed without a trace.

Each pod is what `tests/harness/synthetic.py` makes, one at a time: a holder (`unshare --net --ipc
--uts` running a copy of sleep named `pause`) and, per container, `nsenter -t HOLDER -n -i -u --
unshare --mount --pid --fork sleep infinity` (two processes: the `unshare` parent in the host's pid
namespace, and `sleep` as pid 1 of its own). Starting 3,500 processes with one Popen each takes
minutes, so one bash launcher starts them all in the background and prints who is who.

Every process stays in the launcher's process group, which is what `stop` kills. The launcher
exits once it has started everything; its orphans are reparented to this process, made a child
subreaper, so that they are reaped here instead of by whatever init the machine has.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36

# $1: the pause binary, $2: pods, $3: containers per pod, $4: where the pods' stderr goes (they
# must not hold the launcher's stdout open, or reading it would never end). A holder joins its
# namespaces just before unshare execs it, so the containers start only once every holder's comm
# reads `pause` (`read` is a builtin: polling costs no fork).
LAUNCHER = r"""
set -u
pause=$1 pods=$2 containers=$3 log=$4
exec 3>&1 >/dev/null 2>>"$log" </dev/null
holders=()
for ((i = 0; i < pods; i++)); do
    unshare --net --ipc --uts "$pause" infinity 3>&- &
    holders+=($!)
done
for h in "${holders[@]}"; do
    comm=
    until [[ $comm == pause ]]; do
        read -r comm </proc/"$h"/comm || exit 1
        [[ $comm == pause ]] || sleep 0.01
    done
done
for h in "${holders[@]}"; do
    echo "holder $h" >&3
    for ((k = 0; k < containers; k++)); do
        nsenter -t "$h" -n -i -u -- unshare --mount --pid --fork sleep infinity 3>&- &
        echo "container $h $!" >&3
    done
done
"""


@dataclass
class SyntheticPodIds:
    holder: int
    # `unshare` of each container -> its `sleep` (pid 1 of its pid namespace), 0 until it runs
    containers: dict[int, int] = field(default_factory=dict)


@dataclass
class Fleet:
    pgid: int
    workdir: Path
    pods: dict[int, SyntheticPodIds]  # holder pid -> the pod

    @property
    def process_count(self) -> int:
        return sum(1 + 2 * len(p.containers) for p in self.pods.values())

    def stop(self, timeout: float = 30.0) -> None:
        """Kill the whole process group, reap it, and fail if anything of it is left."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reap_children()
            if not group_members(self.pgid):
                break
            time.sleep(0.05)
        shutil.rmtree(self.workdir, ignore_errors=True)
        left = group_members(self.pgid)
        if left:
            raise RuntimeError(f"{len(left)} processes of group {self.pgid} survived: {left[:10]}")


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def group_members(pgid: int) -> list[int]:
    """Pids whose process group is `pgid` (field 5 of /proc/<pid>/stat), zombies included."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.append(int(name))
    return members


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(p) for p in listing.read().split()]
    except OSError:
        return []


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as name:
            return name.read().strip()
    except OSError:
        return ""


def start_fleet(workdir: Path, pods: int, containers: int, timeout: float = 300.0) -> Fleet:
    """Start `pods` x `containers` and wait until every container's `sleep` runs."""
    sleep = shutil.which("sleep")
    if sleep is None:
        raise RuntimeError("sleep(1) not found")
    workdir.mkdir(parents=True, exist_ok=True)
    pause = workdir / "pause"
    shutil.copy(sleep, pause)
    log = workdir / "stderr.log"
    launcher = subprocess.Popen(
        ["bash", "-c", LAUNCHER, "launcher", str(pause), str(pods), str(containers), str(log)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    fleet = Fleet(launcher.pid, workdir, {})
    try:
        output, _ = launcher.communicate(timeout=timeout)
        if launcher.returncode != 0:
            raise RuntimeError(
                f"the launcher failed (exit {launcher.returncode}): {log.read_text()[-2000:]}"
            )
        for line in output.splitlines():
            kind, holder, *rest = line.split()
            if kind == "holder":
                fleet.pods[int(holder)] = SyntheticPodIds(int(holder))
            else:
                fleet.pods[int(holder)].containers[int(rest[0])] = 0
        _wait_for_inits(fleet, time.monotonic() + timeout)
    except BaseException:
        fleet.stop()
        raise
    return fleet


def _wait_for_inits(fleet: Fleet, deadline: float) -> None:
    pending = [(pod, pid) for pod in fleet.pods.values() for pid in pod.containers]
    while pending:
        waiting = []
        for pod, launcher in pending:
            inits = [c for c in children(launcher) if comm(c) == "sleep"]
            if inits:
                pod.containers[launcher] = inits[0]
            else:
                waiting.append((pod, launcher))
        pending = waiting
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} containers did not start")
        if pending:
            time.sleep(0.05)
