"""Process facts (psutil) against the kernel's own words: /proc/<pid>/status and stat.

Through the real `nsinspect`: `pid PID -o json` carries the process's facts, `pod NAME -o json`
each container's main process's; a process that is gone or was replaced leaves them unset.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.local_cli import local_json
from harness.synthetic import SyntheticPod, readlink_inode, start_pod
from nsinspect.agent.discovery.procfs import boot_time, read_stat
from nsinspect.agent.model import Process
from nsinspect.agent.scanner.process_facts import ProcessFactsReader, node_users

pytestmark = pytest.mark.root


def status_fields(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)


def started_at(pid: int) -> float:
    btime = boot_time("/proc")
    assert btime is not None
    return btime + read_stat(f"/proc/{pid}/stat").start_time / os.sysconf("SC_CLK_TCK")


def assert_facts_match(pid: int, facts: dict[str, Any]) -> None:
    status = status_fields(pid)
    real_uid = int(status["Uid"].split()[0])
    assert facts["uid"] == real_uid
    assert facts["user"] == pwd.getpwuid(real_uid).pw_name
    assert facts["threads"] == int(status["Threads"])
    rss = int(status["VmRSS"].split()[0]) * 1024
    assert abs(facts["rss_bytes"] - rss) <= 64 * 1024  # read a moment apart
    assert abs(facts["started_at"] - started_at(pid)) < 0.05
    assert 0 <= facts["cpu_seconds"] < 60


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process of another user, with a few threads of its own."""
    nobody = pwd.getpwnam("nobody")
    script = "import threading, time\nfor _ in range(3): threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\nprint(flush=True)\ntime.sleep(600)"  # noqa: E501
    process = subprocess.Popen(
        ["python3", "-c", script], user=nobody.pw_uid, group=nobody.pw_gid, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    process.stdout.readline()  # its threads run
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_pid_reports_the_process_facts_the_kernel_shows(
    sleeper: subprocess.Popen[bytes],
) -> None:
    report = local_json("pid", str(sleeper.pid))
    facts = report["process"]
    assert facts["user"] == "nobody"
    assert facts["threads"] == 4
    assert_facts_match(sleeper.pid, facts)


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[SyntheticPod]:
    started = start_pod(tmp_path, containers=2)
    try:
        yield started
    finally:
        started.stop()


def test_pod_reports_each_containers_main_process(pod: SyntheticPod) -> None:
    report = local_json("pod", f"net-{readlink_inode(pod.holder_pid, 'net')}")
    containers = report["containers"]
    assert sorted(c["pid"] for c in containers) == sorted(pod.container_pids())
    for container in containers:
        assert_facts_match(container["pid"], container["process"])


def test_a_process_gone_or_replaced_has_no_facts(tmp_path: Path) -> None:
    short = subprocess.Popen(["true"])
    short.wait()
    reader = ProcessFactsReader("/proc")
    gone = Process(pid=short.pid, ppid=1, comm="true", start_time=1, cgroup_paths=(), namespaces={})
    assert reader.read(gone) is None
    me = read_stat(f"/proc/{os.getpid()}/stat")
    own = Process(os.getpid(), me.ppid, me.comm, me.start_time, (), {})
    assert reader.read(own) is not None
    # The same pid with another start time: a process that replaced the one the scan saw.
    replaced = Process(os.getpid(), me.ppid, me.comm, me.start_time - 500, (), {})
    assert reader.read(replaced) is None


def test_user_names_come_from_the_nodes_passwd(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnode-user:x:1234:1234::/:/bin/sh\nbad line\nx:y:z\n"
    )
    assert node_users(str(tmp_path)) == {0: "root", 1234: "node-user"}
    assert node_users(str(tmp_path / "absent")) == {}
