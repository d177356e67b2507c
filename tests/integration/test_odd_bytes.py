"""Any bytes in names, on real namespaces: every command and the agent keep working.

`ip netns add` with a space, a non-ASCII letter, a tab, a newline and a byte that is not UTF-8;
a runtime-less pod in the first of them whose container runs a process named with a newline and
a byte that is not UTF-8 (prctl PR_SET_NAME), moved into a cgroup whose name holds a tab, a
space, a backslash and such a byte. Names come back exact in JSON where they are UTF-8, with
U+FFFD for each byte that is not (JSON text is UTF-8); the tables escape control characters.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from harness.agent_process import start_agent
from harness.synthetic import SyntheticPod, pause_binary, readlink_inode, wait_for

pytestmark = pytest.mark.root

# PR_SET_NAME, then sleep: a comm of "odd\ncomm" and the byte 0xff (15 bytes at most).
RENAME = (
    "import ctypes, time; ctypes.CDLL(None).prctl(15, b'odd\\ncomm\\xff', 0, 0, 0); "
    "time.sleep(3600)"
)
ODD_COMM = "odd\ncomm\ufffd"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["nsinspect", *args], capture_output=True, text=True, check=False)
    assert "Traceback" not in result.stderr, (args, result.stderr)
    assert result.returncode in (0, 1, 3), (args, result.returncode, result.stderr)
    return result


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "-o", "json").stdout)


@contextmanager
def netns(name: bytes) -> Iterator[bytes]:
    subprocess.run([b"ip", b"netns", b"add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run([b"ip", b"netns", b"delete", name], check=False)


def cgroup_root() -> Path:
    """Where this node's unified hierarchy is mounted, else the v1 `pids` one."""
    found: dict[str, Path] = {}
    with open("/proc/self/mountinfo", "rb") as mountinfo:
        for line in mountinfo:
            fields = line.split(b" - ", 1)
            if len(fields) != 2:
                continue
            fstype, _, options = fields[1].split(b" ", 2)
            mount_point = Path(os.fsdecode(fields[0].split(b" ")[4]))
            if fstype == b"cgroup2":
                found.setdefault("unified", mount_point)
            elif fstype == b"cgroup" and b"pids" in options.split(b","):
                found.setdefault("pids", mount_point)
    root = found.get("unified") or found.get("pids")
    if root is None:
        pytest.skip("no writable cgroup hierarchy (cgroup2, or v1 pids) is mounted")
    return root


@contextmanager
def odd_cgroup(tag: str, pid: int) -> Iterator[bytes]:
    """`<root>/nsi-odd-<tag>/<odd name>` holding `pid`; the process goes back where it was and
    both directories are removed afterwards. The kernel refuses a newline in a cgroup's name
    (EINVAL), so the name holds every other odd byte."""
    root = cgroup_root()
    parent = os.fsencode(root / f"nsi-odd-{tag}")
    child = parent + b"/tab\there sp\xff\\bs"
    with open(f"/proc/{pid}/cgroup", "rb") as own:
        origin = next(
            (line.split(b":", 2)[2].strip() for line in own
             if (line.startswith(b"0::") if root.name != "pids" else b":pids:" in line)),
            b"/",
        )  # fmt: skip
    os.mkdir(parent)
    try:
        os.mkdir(child)
        try:
            with open(child + b"/cgroup.procs", "wb") as procs:
                procs.write(str(pid).encode())
            yield child[len(os.fsencode(root)) :]
        finally:
            with (
                suppress(OSError),
                open(os.fsencode(root) + origin + b"/cgroup.procs", "wb") as back,
            ):
                back.write(str(pid).encode())
            rmdir_when_empty(child)
    finally:
        rmdir_when_empty(parent)


def rmdir_when_empty(path: bytes) -> None:
    deadline = time.monotonic() + 5
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_pod_in(directory: Path, netns_name: bytes, stack: ExitStack) -> tuple[SyntheticPod, int]:
    """A runtime-less pod whose holder lives in `ip netns` NAME; its one container is the
    renamed python process. Returns the pod and that process's pid."""
    holder = subprocess.Popen(
        [b"ip", b"netns", b"exec", netns_name, b"unshare", b"--ipc", b"--uts",
         pause_binary(directory).encode(), b"infinity"],
        start_new_session=True,
    )  # fmt: skip
    pod = SyntheticPod(holder)
    stack.callback(pod.stop)
    wait_for(lambda: comm(holder.pid) == b"pause\n", what="holder to start")
    container = subprocess.Popen(
        ["nsenter", "-t", str(holder.pid), "-n", "-i", "-u", "--",
         "unshare", "--mount", "python3", "-c", RENAME],
        start_new_session=True,
    )  # fmt: skip
    pod.containers.append(container)
    wait_for(lambda: comm(container.pid) == b"odd\ncomm\xff\n", what="container to rename")
    return pod, container.pid


def comm(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/comm", "rb") as name:
            return name.read()
    except OSError:
        return b""


def scans_done(metrics: str) -> float:
    match = re.search(r"^nsinspect_scan_duration_seconds_count (\S+)$", metrics, re.MULTILINE)
    assert match is not None, metrics[:2000]
    return float(match[1])


def test_odd_names_in_every_command_and_the_agent(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    names = {
        "space and non-ASCII": f"nsi tést-{tag}".encode(),
        "tab": f"nsi\ttab-{tag}".encode(),
        "newline": f"nsi\nnl-{tag}".encode(),
        "not UTF-8": b"nsi\xffbyte-" + tag.encode(),
    }
    agent = start_agent(tmp_path, interval=0.5)
    with ExitStack() as stack:
        stack.callback(agent.stop)
        agent.wait_ready()
        before = scans_done(agent.metrics())
        for name in names.values():
            stack.enter_context(netns(name))
        pod, odd_pid = start_pod_in(tmp_path, names["space and non-ASCII"], stack)
        cgroup = stack.enter_context(odd_cgroup(tag, odd_pid))
        pod_name = names["space and non-ASCII"].decode()
        inodes = {label: readlink_inode_of(name) for label, name in names.items()}

        # Every command, every output: no traceback, JSON that parses.
        for args in (
            ("pods",),
            ("pods", "-o", "wide"),
            ("doctor",),
            ("ns",),
            ("ns", "-o", "wide"),
            ("pid", str(odd_pid)),
            ("pid", str(odd_pid), "-o", "wide"),
            ("pod", pod_name),
            ("pod", pod_name, "-o", "wide"),
            ("pod", pod_name, "-o", "dot"),
            ("ns", f"net:{inodes['tab']}"),
        ):
            run(*args)  # fmt: skip
        for args in (("pods",), ("doctor",), ("ns",), ("pod", pod_name), ("pid", str(odd_pid))):
            run_json(*args)

        # The names come back: exact where UTF-8, U+FFFD for a byte that is not.
        pins = {item["inode"]: item["pins"] for item in run_json("ns")["items"]}
        for label, name in names.items():
            expected = f"/run/netns/{name.decode('utf-8', 'replace')}"
            assert pins[inodes[label]] == [expected], label
        (item,) = [i for i in run_json("pods")["items"] if i["pod"]["name"] == pod_name]
        assert item["sandbox"]["pid"] == pod.holder_pid
        assert [c["name"] for c in item["containers"]] == [f"{ODD_COMM}-{odd_pid}"]
        process = run_json("pid", str(odd_pid))
        assert process["comm"] == ODD_COMM
        assert cgroup.decode("utf-8", "replace") in process["cgroup"]
        assert process["namespaces"]["net"]["inode"] == readlink_inode(odd_pid, "net")

        # The tables escape what would move the cursor; nothing raw reaches the terminal.
        table = run("pod", pod_name).stdout
        assert "odd\\ncomm" in table and "odd\ncomm" not in table
        namespaces = run("ns").stdout
        assert f"/run/netns/nsi\\ttab-{tag}" in namespaces
        assert f"/run/netns/nsi\\nnl-{tag}" in namespaces
        assert "\t" not in namespaces

        # The agent: still ready, scans still completing, and serving the odd names.
        agent.wait_for_scan_after(time.time())
        assert agent.get("/readyz").status == 200
        served = agent.get("/api/v1/pods").json()["items"]
        assert [i["pod"]["name"] for i in served if i["sandbox"]["pid"] == pod.holder_pid] == [
            pod_name
        ]
        after = scans_done(agent.metrics())
        assert after > before
        assert "scan failed" not in agent.log()


def readlink_inode_of(netns_name: bytes) -> int:
    """The inode `ip netns` pinned, by stat(2) of its bind mount: the independent truth."""
    return os.stat(b"/run/netns/" + netns_name).st_ino
