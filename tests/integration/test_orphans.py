"""Leaked namespaces: pinned by a bind mount or a runtime's open fd, with no process in them."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.runtime_exe import runtime_python
from harness.synthetic import wait_for
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

pytestmark = pytest.mark.root

# A process that is `conmon` by its executable (a runtime whose fds nsinspect reads), opens a
# namespace file and holds it: the namespace then lives on after its bind mount is gone.
FD_HOLDER = """
import ctypes, sys, time
ctypes.CDLL(None).prctl(15, b"conmon", 0, 0, 0)  # PR_SET_NAME
held = open(sys.argv[1], "rb")
print("ready", flush=True)
time.sleep(600)
"""


def inode_of(path: Path) -> int:
    """The independent truth: stat(1) of the nsfs bind mount."""
    return int(
        subprocess.run(
            ["stat", "-c", "%i", str(path)], capture_output=True, text=True, check=True
        ).stdout
    )


def nsinspect_ns(inode: int, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["nsinspect", "ns", f"net:{inode}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def netns_dir(tmp_path: Path) -> Iterator[Path]:
    """A private mount point of our own, like /run/netns, under the test's temporary dir."""
    directory = tmp_path / "netns"
    directory.mkdir()
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    subprocess.run(["mount", "--make-private", str(directory)], check=True)
    try:
        yield directory
    finally:
        for entry in directory.iterdir():
            subprocess.run(["umount", str(entry)], check=False)
        subprocess.run(["umount", str(directory)], check=True)


def pin_netns(path: Path) -> int:
    """`unshare --net=<file>`: a new network namespace bind-mounted at `path`, with no process
    left in it once `true` exits: the way a CNI plugin's netns leaks."""
    path.touch()
    subprocess.run(["unshare", f"--net={path}", "true"], check=True)
    return inode_of(path)


def test_a_leaked_netns_is_an_orphan(netns_dir: Path) -> None:
    leaked = netns_dir / "cni-leaked"
    inode = pin_netns(leaked)
    busy = netns_dir / "cni-busy"
    busy.touch()
    # Control: a pinned namespace that a process is in is not an orphan.
    with subprocess.Popen(["unshare", f"--net={busy}", "sleep", "60"]) as sleeper:
        wait_for(lambda: _in_netns(sleeper.pid, busy), what="the sleeper in its netns")
        snapshot = SnapshotBuilder(ScanConfig()).build()
        sleeper.kill()
    orphans = {(o.ns_type, o.inode): o.path for o in snapshot.orphans}
    assert orphans[("net", inode)] == str(leaked)
    assert ("net", inode_of(busy)) not in orphans
    assert any(p.path == str(busy) for p in snapshot.pinned)

    report = nsinspect_ns(inode, "-o", "json")
    assert report.returncode == 0, report.stderr
    document = json.loads(report.stdout)
    assert (document["orphan"], document["pins"], document["processes"]) == (
        True,
        [str(leaked)],
        [],
    )
    table = nsinspect_ns(inode)
    assert f"Pinned at: {leaked}" in table.stdout
    assert "Orphan:" in table.stdout

    listing = subprocess.run(["nsinspect", "ns"], capture_output=True, text=True, check=True)
    row = next(line.split() for line in listing.stdout.splitlines() if str(inode) in line)
    assert row == ["net", str(inode), "ORPHAN", str(leaked)]
    pinned = json.loads(
        subprocess.run(
            ["nsinspect", "ns", "-o", "json"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert {"type": "net", "inode": inode, "path": str(leaked), "holder_pid": None} in pinned[
        "orphans"
    ]


def _in_netns(pid: int, pinned: Path) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(pinned).st_ino
    except OSError:
        return False


def test_a_namespace_held_only_by_a_runtime_fd_is_an_orphan(
    netns_dir: Path, tmp_path: Path
) -> None:
    pinned = netns_dir / "cni-held"
    inode = pin_netns(pinned)
    conmon = runtime_python(tmp_path / "bin", "conmon")
    with subprocess.Popen(
        [conmon, "-c", FD_HOLDER, str(pinned)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
            # Lazily: the held fd keeps the mount busy. Then only the fd holds the namespace.
            subprocess.run(["umount", "--lazy", str(pinned)], check=True)
            snapshot = SnapshotBuilder(ScanConfig()).build()
        finally:
            holder.kill()
    held = [o for o in snapshot.orphans if (o.ns_type, o.inode) == ("net", inode)]
    assert len(held) == 1, snapshot.orphans
    assert held[0].holder_pid == holder.pid
    assert held[0].path.startswith(f"/proc/{holder.pid}/fd/")
