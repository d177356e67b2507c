"""Names from the node never reach the terminal raw, through the real CLI, local and remote.

Real processes name themselves (prctl PR_SET_NAME) with an escape sequence that would retitle the
window and clear the screen, a newline that would split a table row (the class of kubectl's
CVE-2021-25743), a right-to-left override and an 8-bit CSI; they are the app containers of a
synthetic pod (tests/harness/synthetic.py), whose netns pin carries one more such name.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.agent_process import start_agent
from harness.cluster_standin import Cluster, pod, serve_cluster
from harness.kube_standin import write_kubeconfig
from harness.synthetic import SyntheticPod, readlink_inode, start_pod, wait_for

pytestmark = pytest.mark.root

# What each app container calls itself (at most the kernel's 15 bytes), and how it must show.
COMMS = {
    b"\x1b]0;PWNED\x07\x1b[2J": "\\x1b]0;PWNED\\x07\\x1b[2J",
    b"row\nsplit": "row\\nsplit",
    "\u202eexe.gnp".encode(): "\\u202eexe.gnp",
    b"\xc2\x9b2J\xe2\x80\xaeC1": "\\x9b2J\\u202eC1",  # U+009B, the 8-bit CSI, in UTF-8
}
PIN = "pwn\x1b]0;PWNED\x07\x1b[2J\nfake-row"  # /run/netns/<PIN>: the pod's name
PIN_SHOWN = "pwn\\x1b]0;PWNED\\x07\\x1b[2J\\nfake-row"
# ESC, BEL, the byte of the 8-bit CSI (alone, or in U+009B's UTF-8), the override.
RAW = (b"\x1b", b"\x07", b"\x9b", "\u202e".encode())
NAMER = (
    "import ctypes, sys, time; "
    "ctypes.CDLL(None).prctl(15, bytes.fromhex(sys.argv[1]), 0, 0, 0); time.sleep(3600)"
)
NODE = "node-a"


@dataclass
class HostilePod:
    synthetic: SyntheticPod
    name: str  # net-<inode>, while nothing pins it
    containers: dict[int, str]  # pid -> its name as it must show (`<comm>-<pid>`, escaped)


def read_comm(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/comm", "rb") as comm:
            return comm.read().removesuffix(b"\n")
    except OSError:
        return b""


def named_container(holder_pid: int, comm: bytes) -> subprocess.Popen[bytes]:
    """A container joining the holder as start_pod's do, whose process calls itself `comm`."""
    join = ["nsenter", "-t", str(holder_pid), "-n", "-i", "-u", "--"]
    own = ["unshare", "--mount", "--pid", "--fork"]
    command = [*join, *own, sys.executable, "-c", NAMER, comm.hex()]
    return subprocess.Popen(command, start_new_session=True)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostilePod]:
    synthetic = start_pod(tmp_path_factory.mktemp("hostile"), containers=0)
    try:
        for comm in COMMS:
            synthetic.containers.append(named_container(synthetic.holder_pid, comm))
            wait_for(
                lambda c=comm: read_comm(synthetic.container_pids()[-1]) == c[:15],
                what="a container to name itself",
            )
        pids = synthetic.container_pids()
        assert [read_comm(pid) for pid in pids] == list(COMMS)  # what the kernel kept
        containers = {
            pid: f"{shown}-{pid}" for pid, shown in zip(pids, COMMS.values(), strict=True)
        }
        name = f"net-{readlink_inode(synthetic.holder_pid, 'net')}"
        yield HostilePod(synthetic, name, containers)
    finally:
        synthetic.stop()


@contextmanager
def netns_pin(holder_pid: int, name: str) -> Iterator[None]:
    """Pin the pod's network namespace at /run/netns/<name>, as `ip netns attach` does."""
    path = Path("/run/netns") / name
    path.parent.mkdir(exist_ok=True)
    path.touch()
    try:
        subprocess.run(["mount", "--bind", f"/proc/{holder_pid}/ns/net", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["umount", str(path)], check=True)
    finally:
        path.unlink()


@pytest.fixture
def pinned(hostile: HostilePod) -> Iterator[str]:
    with netns_pin(hostile.synthetic.holder_pid, PIN):
        yield PIN


def nsinspect(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["nsinspect", *args], capture_output=True, timeout=120, check=False)


def shown(output: bytes) -> str:
    """The output as text, once it is known to hold no raw control of the names."""
    for raw in RAW:
        assert raw not in output
    return output.decode()


def column_starts(line: str) -> list[int]:
    """Where each cell starts; cells are apart by three spaces, a header may hold one."""
    return [cell.start() for cell in re.finditer(r"\S+(?: \S+)*", line)]


def table_after(lines: list[str], header_start: str) -> list[str]:
    """A table's header and rows: from its header to the blank line that ends it."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return lines[start:end]


@pytest.mark.parametrize("output", ["table", "wide"])
def test_pod_shows_each_container_escaped_on_its_own_row(hostile: HostilePod, output: str) -> None:
    result = nsinspect("--local", "pod", hostile.name, "-o", output)
    assert result.returncode == 0, result.stderr
    header, *rows = table_after(shown(result.stdout).splitlines(), "CONTAINER")
    assert len(rows) == len(COMMS)  # a newline in a name split no row
    for pid, name in hostile.containers.items():
        row = next(row for row in rows if row.startswith(name + " "))
        assert str(pid) in row.split()
        assert column_starts(row) == column_starts(header)  # aligned on the escaped text


def test_pid_shows_the_comm_escaped(hostile: HostilePod) -> None:
    for pid, name in hostile.containers.items():
        comm = name.removesuffix(f"-{pid}")
        document = json.loads(nsinspect("--local", "pid", str(pid), "-o", "json").stdout)
        for output in ("table", "wide"):
            result = nsinspect("--local", "pid", str(pid), "-o", output)
            assert result.returncode == 0, result.stderr
            first, *lines = shown(result.stdout).splitlines()
            assert first.startswith(f"PID {pid} ({comm}), parent ")
            assert first.endswith(f": pod {hostile.name}, container {name}")
            assert len(table_after(lines, "TYPE")) == 1 + len(document["namespaces"])


def test_the_dot_source_holds_no_raw_control(hostile: HostilePod) -> None:
    result = nsinspect("--local", "pod", hostile.name, "-o", "dot")
    assert result.returncode == 0, result.stderr
    source = shown(result.stdout)
    for name in hostile.containers.values():
        in_dot = name.replace("\\", "\\\\")  # DOT's own escape of the backslash
        assert f'[label="{in_dot}\\npid ' in source
    if shutil.which("dot") is not None:
        drawn = subprocess.run(
            ["dot", "-Tsvg"], input=result.stdout, capture_output=True, check=False
        )
        assert drawn.returncode == 0, drawn.stderr
        shown(drawn.stdout)


@pytest.mark.parametrize("output", ["table", "wide"])
def test_pods_shows_a_hostile_pod_name_on_one_row(
    hostile: HostilePod, pinned: str, output: str
) -> None:
    result = nsinspect("--local", "pods", "-o", output)
    assert result.returncode == 0, result.stderr
    header, *rows = shown(result.stdout).splitlines()
    assert not [row for row in rows if row.startswith("fake-row")]
    row = next(row for row in rows if f" {PIN_SHOWN} " in row)
    assert row.split()[3] == str(hostile.synthetic.holder_pid)  # SANDBOX, where it belongs
    assert column_starts(row) == column_starts(header)


def test_a_pod_named_by_a_hostile_pin_and_the_error_naming_it(
    hostile: HostilePod, pinned: str
) -> None:
    report = nsinspect("--local", "pod", pinned)
    assert report.returncode == 0, report.stderr
    assert shown(report.stdout).startswith(f"Pod:       {PIN_SHOWN}\n")
    missing = nsinspect("--local", "pod", pinned + "\x1b[2J")
    assert missing.returncode == 1
    error = shown(missing.stderr)
    assert f'pod "{PIN_SHOWN}\\x1b[2J" not found' in error
    assert f"Did you mean: {PIN_SHOWN} (no namespace)?" in error


def test_the_remote_tables_are_escaped_too(hostile: HostilePod, tmp_path: Path) -> None:
    agent = start_agent(tmp_path, interval=1.0)
    try:
        agent.wait_ready()
        cluster = Cluster()
        cluster.pods.append(pod(hostile.name, "-", NODE))  # "-": the agent's "no namespace"
        cluster.add_agent(
            "nsinspect-agent-x1", NODE, f"127.0.0.1:{agent.port}", f"127.0.0.1:{agent.api_port}"
        )
        with serve_cluster(cluster) as port:
            remote = ("--kubeconfig", str(write_kubeconfig(tmp_path / "kubeconfig", port)))
            report = nsinspect(*remote, "pod", hostile.name, "-n", "-")
            assert report.returncode == 0, report.stderr
            assert report.stdout == nsinspect("--local", "pod", hostile.name).stdout
            header, *rows = table_after(shown(report.stdout).splitlines(), "CONTAINER")
            assert sorted(row.split()[0] for row in rows) == sorted(hostile.containers.values())

            with netns_pin(hostile.synthetic.holder_pid, PIN):
                agent.wait_for_scan_after(time.time())
                listing = nsinspect(*remote, "pods", "-A")
            assert listing.returncode == 0, listing.stderr
            header, *rows = shown(listing.stdout).splitlines()
            row = next(row for row in rows if f" {PIN_SHOWN} " in row)
            assert column_starts(row) == column_starts(header)
            assert not [row for row in rows if row.startswith("fake-row")]
    finally:
        agent.stop()
