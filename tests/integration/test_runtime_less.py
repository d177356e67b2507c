"""No pods that are not pods, on real namespaces beside a real podman pod.

Trees that unshared their own namespaces, a lone unshared process and commands that share only
an `ip netns` network are no pods and have no findings; the benchmark's synthetic pods (a holder,
and processes that joined it from outside its tree) are runtime-less pods that say on what
evidence they were grouped; `doctor --runtime-less=ignore` leaves their findings out. Truth:
the pids the test started, readlink(1) and `podman pod inspect`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from harness.podman import kube_play, pod_yaml
from harness.synthetic import readlink_inode, start_pod, wait_for

pytestmark = [pytest.mark.root, pytest.mark.podman]


def nsinspect(*args: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        ["nsinspect", *args, "-o", "json"], capture_output=True, text=True, check=False
    )
    assert "Traceback" not in result.stderr, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, document


def inode(pid: int, ns_type: str) -> int | None:
    """readlink(1)'s answer, or None while the process is not there (yet, or any more)."""
    try:
        return readlink_inode(pid, ns_type)
    except subprocess.CalledProcessError:
        return None


def tree(pid: int) -> list[int]:
    """`pid` and every descendant, from /proc's children lists."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        try:
            with open(f"/proc/{current}/task/{current}/children") as children:
                queue.extend(int(child) for child in children.read().split())
        except OSError:
            pass
    return sorted(pids)


@contextmanager
def started(argv: list[str], processes: int) -> Iterator[list[int]]:
    """A process tree of `processes` processes; yields their pids; killed afterwards."""
    process = subprocess.Popen(argv, start_new_session=True)
    try:
        wait_for(lambda: len(tree(process.pid)) == processes, what=f"{argv} to start")
        # unshare joins its namespaces before it execs: wait until every member is in them.
        wait_for(
            lambda: (
                all(inode(p, "net") == inode(process.pid, "net") for p in tree(process.pid))
                and inode(process.pid, "net") != inode(os.getpid(), "net")
            ),
            what="the namespaces",
        )
        yield tree(process.pid)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def netns(name: str) -> Iterator[str]:
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def findings_about(findings: list[dict[str, Any]], pod_names: set[str]) -> list[dict[str, Any]]:
    return [f for f in findings if f["pod"] in pod_names]


def pids_in(evidence: dict[str, Any]) -> set[int]:
    """Every whole number a finding's evidence holds, in lists too: the pids it could name."""
    values = [
        v for value in evidence.values() for v in (value if isinstance(value, list) else [value])
    ]
    return {v for v in values if isinstance(v, int)}


def pods_holding(pods: list[dict[str, Any]], pids: set[int]) -> list[str]:
    """The pods whose sandbox or any container holds one of `pids`."""
    found = []
    for item in pods:
        held = {item["sandbox"]["pid"]} | {p for c in item["containers"] for p in c["pids"]}
        if held & pids:
            found.append(item["pod"]["name"])
    return found


@pytest.fixture
def podman_pod() -> Iterator[str]:
    name = f"nsi-rl-{uuid.uuid4().hex[:6]}"
    with kube_play(pod_yaml(name, {"app": ["sleep", "100000"]})):
        yield name


def test_trees_that_unshared_their_own_namespaces_are_no_pods(podman_pod: str) -> None:
    before_code, before = nsinspect("doctor")
    tag = uuid.uuid4().hex[:6]
    with ExitStack() as stack:
        # unshare, sh and its 3 children (one in a mount namespace of its own).
        shell = stack.enter_context(started(
            ["unshare", "--net", "--ipc", "--uts", "--fork", "sh", "-c",
             "sleep infinity & sleep infinity & unshare --mount sleep infinity & wait"],
            processes=5,
        ))  # fmt: skip
        lone = stack.enter_context(
            started(["unshare", "--net", "--ipc", "--uts", "--mount", "sleep", "infinity"], 1)
        )
        name = stack.enter_context(netns(f"nsi-rl-{tag}"))
        exec_a = stack.enter_context(started(["ip", "netns", "exec", name, "sleep", "infinity"], 1))
        exec_b = stack.enter_context(started(["ip", "netns", "exec", name, "sleep", "infinity"], 1))
        ours = set(shell + lone + exec_a + exec_b)
        group_names = {name} | {f"net-{readlink_inode(p, 'net')}" for p in (shell[0], lone[0])}
        # One of the tree is in a mount namespace of its own (`unshare --mount`).
        assert len({readlink_inode(pid, "mnt") for pid in shell}) == 2

        _, pods = nsinspect("pods")
        assert pods_holding(pods["items"], ours) == []
        podman_pods = [i for i in pods["items"] if i["pod"]["name"] == podman_pod]
        assert [p["pod"]["runtime"] for p in podman_pods] == ["podman"]

        code, after = nsinspect("doctor")
        assert findings_about(after["items"], group_names) == []
        assert not [f for f in after["items"] if pids_in(f["evidence"]) & ours]
        keys = {(f["code"], f["pod"], f["container"], f["ns_type"]) for f in after["items"]}
        if keys == {(f["code"], f["pod"], f["container"], f["ns_type"]) for f in before["items"]}:
            # Nothing else changed meanwhile (other tests may run beside): the same verdict.
            assert code == before_code


def test_synthetic_pods_are_pods_that_say_their_evidence(tmp_path: Path) -> None:
    first, second = start_pod(tmp_path, containers=2), start_pod(tmp_path, containers=1)
    try:
        _, pods = nsinspect("pods")
        for synthetic in (first, second):
            (item,) = [i for i in pods["items"] if i["sandbox"]["pid"] == synthetic.holder_pid]
            assert item["pod"]["runtime"] == "none"
            assert item["pod"]["name"] == f"net-{readlink_inode(synthetic.holder_pid, 'net')}"
            grouping = item["pod"]["grouping"]
            joined = sorted(c.pid for c in synthetic.containers)  # nsenter, exec'd as unshare
            assert grouping["holder_pid"] == synthetic.holder_pid
            assert grouping["holder_comm"] == "pause"
            assert grouping["joined_pids"] == joined
            assert f"holder pid {synthetic.holder_pid} (pause)" in grouping["text"]
            assert f"(pid {', '.join(map(str, joined))})" in grouping["text"]
            assert sorted(c["pid"] for c in item["containers"]) == sorted(
                synthetic.container_pids()
            )
        table = subprocess.run(
            ["nsinspect", "pod", f"net-{readlink_inode(first.holder_pid, 'net')}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert (
            f"Evidence:  no runtime knows these processes: holder pid {first.holder_pid}" in table
        )
    finally:
        first.stop()
        second.stop()


def test_doctor_can_ignore_the_findings_of_runtime_less_pods(tmp_path: Path) -> None:
    # A holder, and a container that joined its net, ipc and uts with a root of its own but
    # stayed in the node's pid namespace: HostNamespaceShared, about a pod no runtime knows.
    synthetic = start_pod(tmp_path, containers=0)
    container = subprocess.Popen(
        ["nsenter", "-t", str(synthetic.holder_pid), "-n", "-i", "-u", "--",
         "unshare", "--mount", "sleep", "infinity"],
        start_new_session=True,
    )  # fmt: skip
    synthetic.containers.append(container)
    try:
        wait_for(
            lambda: (
                inode(container.pid, "mnt") not in (None, inode(os.getpid(), "mnt"))
                and inode(container.pid, "uts") == inode(synthetic.holder_pid, "uts")
            ),
            what="the container to join",
        )
        name = f"net-{readlink_inode(synthetic.holder_pid, 'net')}"
        included_code, included = nsinspect("doctor")
        ignored_code, ignored = nsinspect("doctor", "--runtime-less=ignore")
        ours = [f for f in included["items"] if f["pod"] == name]
        assert [(f["code"], f["ns_type"], f.get("runtime_less")) for f in ours] == [
            ("HostNamespaceShared", "pid", True)
        ]
        assert ours[0]["evidence"]["inode"] == readlink_inode(container.pid, "pid")
        assert included_code == 1
        assert not [f for f in ignored["items"] if f["pod"] == name]
        # Everything else is as it was: the exit code follows what is left.
        assert not [f for f in ignored["items"] if f.get("runtime_less")]
        others = [f for f in ignored["items"] if f["severity"] in ("warning", "critical")]
        if not others:
            assert ignored_code in (0, 3)
            assert ignored_code != included_code
        table = subprocess.run(
            ["nsinspect", "doctor", "--runtime-less=ignore"], capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        assert name not in table.stdout and "Traceback" not in table.stderr
    finally:
        synthetic.stop()
