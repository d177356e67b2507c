"""Clearing up after the CRI test node: only what it started, only what it created.

Another test session (a second CRI node) may run on the same machine at the same time, so
nothing is attributed to this node for merely being new. Processes are found by the node's own
socket path in their command line (the shims) or in its own runc root (the containers), and ended
by pid. Pod cgroups and CNI netns are those of the node's own pods (by uid, by the netns path the
CRI reported). Shared parents (`kubepods/besteffort`, `/run/containerd`, `/var/lib/cni`) are
removed only if they did not exist before the node started and are empty now.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Directories containerd and libcni create outside the node's own directory; the shims and
# CNI DEL empty them.
OUTSIDE_DIRS = (
    Path("/run/containerd/s"),
    Path("/run/containerd"),
    Path("/var/lib/cni/results"),
    Path("/var/lib/cni"),
)
KUBEPODS = ("kubepods/besteffort", "kubepods")


@dataclass(frozen=True)
class Leftovers:
    """What was there before the node started."""

    dirs: frozenset[Path]
    cgroups: frozenset[Path]


def cgroup_mounts() -> list[Path]:
    """Every cgroup hierarchy's mount point (v1 controllers, name=systemd, unified)."""
    mounts = []
    with open("/proc/self/mountinfo", errors="surrogateescape") as mountinfo:
        for line in mountinfo:
            fields = line.split(" - ")
            if len(fields) == 2 and fields[1].split(" ")[0] in ("cgroup", "cgroup2"):
                mounts.append(Path(line.split(" ")[4]))
    return mounts


def snapshot_leftovers() -> Leftovers:
    parents = {mount / sub for mount in cgroup_mounts() for sub in KUBEPODS}
    return Leftovers(
        dirs=frozenset(d for d in OUTSIDE_DIRS if d.exists()),
        cgroups=frozenset(p for p in parents if p.is_dir()),
    )


def _pids_with_argument(argument: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                args = cmdline.read().split(b"\0")
        except OSError:
            continue
        if argument.encode() in args:
            pids.append(int(entry))
    return pids


def end_processes(socket: str, runc_root: str) -> None:
    """Containers left in the node's runc root, then shims started for the node's socket."""
    namespace_root = Path(runc_root) / "k8s.io"
    if namespace_root.is_dir():
        for container in os.listdir(namespace_root):
            subprocess.run(
                ["runc", "--root", str(namespace_root), "delete", "--force", container],
                capture_output=True,
                check=False,
            )
    for pid in _pids_with_argument(socket):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _pids_with_argument(socket) and time.monotonic() < deadline:
        time.sleep(0.05)


def _rmdir_tree(directory: Path) -> None:
    """A pod cgroup and the (empty) container cgroups below it, deepest first."""
    children = [p for p in directory.iterdir() if p.is_dir()]
    for child in children:
        _rmdir_tree(child)
    directory.rmdir()


def remove_leftovers(
    before: Leftovers, pod_uids: Iterable[str], netns_paths: Iterable[str], bridge: str
) -> list[str]:
    """Remove what the node created; returns what could not be removed."""
    problems: list[str] = []
    for netns in netns_paths:
        path = Path(netns.replace("/var/run/", "/run/", 1))
        if path.exists():  # StopPodSandbox removes it; only a failed teardown leaves it
            subprocess.run(["umount", str(path)], capture_output=True, check=False)
            try:
                path.unlink()
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror}")
    mounts = cgroup_mounts()
    pod_cgroups = [m / "kubepods" / "besteffort" / f"pod{uid}" for uid in pod_uids for m in mounts]
    deadline = time.monotonic() + 5  # killed processes leave their cgroups a moment later
    while pod_cgroups:
        pod_cgroup = pod_cgroups.pop(0)
        try:
            if pod_cgroup.is_dir():
                _rmdir_tree(pod_cgroup)
        except OSError as exc:
            if time.monotonic() < deadline:
                pod_cgroups.append(pod_cgroup)
                time.sleep(0.05)
            else:
                problems.append(f"{pod_cgroup}: {exc.strerror}")
    shared = [mount / sub for mount in mounts for sub in KUBEPODS] + list(OUTSIDE_DIRS)
    for directory in shared:
        if directory not in before.dirs | before.cgroups and directory.is_dir():
            with contextlib.suppress(OSError):  # not empty: another node's still in use
                directory.rmdir()
    if Path(f"/sys/class/net/{bridge}").exists():
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)
    return problems
