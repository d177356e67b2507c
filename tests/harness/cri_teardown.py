"""Clearing up after the CRI test node: only what it started, only what it created.

What existed before the node started is recorded first (`snapshot_leftovers`), so teardown never
removes a cgroup, netns or directory someone else made. Processes are found by the node's own
socket path in their command line (the shims) or in its own runc root (the containers), and
ended by pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NETNS_DIR = Path("/run/netns")
# Directories containerd and libcni create outside the node's own temporary directory.
OUTSIDE_DIRS = (Path("/run/containerd"), Path("/var/lib/cni"))
KUBEPODS = ("kubepods/besteffort", "kubepods")


@dataclass(frozen=True)
class Leftovers:
    """What was there before the node started."""

    netns: frozenset[str]
    dirs: frozenset[Path]
    cgroups: frozenset[Path]


def cgroup_mounts() -> list[Path]:
    """Every cgroup hierarchy's mount point (v1 controllers, name=systemd, unified)."""
    mounts = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split(" - ")
            if len(fields) == 2 and fields[1].split(" ")[0] in ("cgroup", "cgroup2"):
                mounts.append(Path(line.split(" ")[4]))
    return mounts


def _kubepods_dirs() -> set[Path]:
    found = set()
    for mount in cgroup_mounts():
        for sub in KUBEPODS:
            if (mount / sub).is_dir():
                found.add(mount / sub)
                found.update(p for p in (mount / sub).glob("pod*") if p.is_dir())
    return found


def snapshot_leftovers() -> Leftovers:
    return Leftovers(
        netns=frozenset(os.listdir(NETNS_DIR)) if NETNS_DIR.is_dir() else frozenset(),
        dirs=frozenset(d for d in OUTSIDE_DIRS if d.exists()),
        cgroups=frozenset(_kubepods_dirs()),
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


def remove_leftovers(before: Leftovers, bridge: str) -> list[str]:
    """Remove what the node created; returns what could not be removed."""
    problems: list[str] = []
    if NETNS_DIR.is_dir():
        for name in set(os.listdir(NETNS_DIR)) - before.netns:
            if name.startswith("cni-"):
                path = NETNS_DIR / name
                subprocess.run(["umount", str(path)], capture_output=True, check=False)
                try:
                    path.unlink()
                except OSError as exc:
                    problems.append(f"{path}: {exc.strerror}")
    # Deepest first: pod cgroups, then besteffort, then kubepods.
    created = sorted(_kubepods_dirs() - before.cgroups, key=lambda p: len(p.parts), reverse=True)
    for cgroup in created:
        try:
            cgroup.rmdir()
        except OSError as exc:
            problems.append(f"{cgroup}: {exc.strerror}")
    if Path(f"/sys/class/net/{bridge}").exists():
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)
    for directory in OUTSIDE_DIRS:
        if directory not in before.dirs and directory.exists():
            subprocess.run(["rm", "-rf", "--one-file-system", str(directory)], check=False)
    return problems
