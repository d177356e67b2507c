"""UTS and IPC details of pods made of real namespaces, against util-linux run inside them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.synthetic import SyntheticPod, start_pod
from nsinspect.agent.model import Pod, Snapshot
from nsinspect.agent.namespace_contents.collect import pod_details
from nsinspect.agent.namespace_contents.details import PodDetails
from nsinspect.agent.namespace_contents.nsread import read_inside
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

pytestmark = pytest.mark.root


@pytest.fixture
def two_pods(tmp_path: Path) -> Iterator[tuple[SyntheticPod, SyntheticPod]]:
    first = start_pod(tmp_path, containers=2)
    second = start_pod(tmp_path, containers=1)
    yield first, second
    first.stop()
    second.stop()


def in_ipc(pid: int, *command: str) -> str:
    """Run a util-linux command inside the IPC namespace of `pid` (the independent truth)."""
    return subprocess.run(
        ["nsenter", "--ipc", "-t", str(pid), *command],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def ipcs_count(pid: int, kind: str) -> int:
    """Objects `ipcs` lists in the namespace: its rows that start with a hex key."""
    return sum(1 for line in in_ipc(pid, "ipcs", kind).splitlines() if line.startswith("0x"))


def pod_of(snapshot: Snapshot, holder_pid: int) -> Pod:
    return next(p for p in snapshot.pods if p.sandbox.pid == holder_pid)


def details_of(*holders: int) -> list[PodDetails]:
    snapshot = SnapshotBuilder(ScanConfig()).build()
    return [pod_details(pod_of(snapshot, holder), snapshot) for holder in holders]


def test_sysv_objects_made_in_one_pod_count_there_and_nowhere_else(
    two_pods: tuple[SyntheticPod, SyntheticPod],
) -> None:
    first, second = two_pods
    before_first, before_second = details_of(first.holder_pid, second.holder_pid)
    host_before = ipcs_count(2, "-m")
    assert before_first.ipc.shm_segments == ipcs_count(first.holder_pid, "-m") == 0

    in_ipc(first.holder_pid, "ipcmk", "--shmem", "4096")
    in_ipc(first.holder_pid, "ipcmk", "--queue")
    in_ipc(first.holder_pid, "ipcmk", "--semaphore", "2")
    after_first, after_second = details_of(first.holder_pid, second.holder_pid)

    assert after_first.ipc.shm_segments == ipcs_count(first.holder_pid, "-m") == 1
    assert after_first.ipc.message_queues == ipcs_count(first.holder_pid, "-q") == 1
    assert after_first.ipc.semaphore_sets == ipcs_count(first.holder_pid, "-s") == 1
    assert after_first.ipc.unavailable.keys() <= {"posix_message_queues"}
    # The other pod and the node saw nothing.
    for field in ("shm_segments", "message_queues", "semaphore_sets"):
        assert getattr(after_second.ipc, field) == getattr(before_second.ipc, field) == 0
    assert ipcs_count(2, "-m") == host_before
    assert after_first.ipc.ns_inode != after_second.ipc.ns_inode


def test_posix_queues_are_unknown_where_only_the_nodes_mqueue_is_mounted(
    two_pods: tuple[SyntheticPod, SyntheticPod],
) -> None:
    # The synthetic containers inherit the node's /dev/mqueue: counting it would report the
    # node's queues as the pod's.
    [details] = details_of(two_pods[0].holder_pid)
    assert details.ipc.posix_message_queues is None
    assert details.ipc.unavailable["posix_message_queues"]


def test_hostname_is_read_inside_the_pods_uts_namespace(
    two_pods: tuple[SyntheticPod, SyntheticPod],
) -> None:
    first, _ = two_pods
    subprocess.run(
        ["nsenter", "--uts", "-t", str(first.holder_pid), "hostname", "nsi-uts-probe"], check=True
    )
    truth = subprocess.run(
        ["nsenter", "--uts", "-t", str(first.container_pids()[0]), "hostname"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    [details] = details_of(first.holder_pid)
    assert details.uts.hostname == truth == "nsi-uts-probe"
    assert details.uts.matches_pod_name is False  # a runtime-less pod is named net-<inode>
    with open("/proc/sys/kernel/hostname") as own:
        assert own.read().strip() != "nsi-uts-probe"  # the node's name was left alone


def test_read_inside_reports_a_namespace_it_cannot_open() -> None:
    read = read_inside({"ipc": "/proc/999999999/ns/ipc"}, ["/proc/sysvipc/shm"])
    assert read.files == {}
    assert "ENOENT" in read.error


LISTENER = (
    "import socket, sys, time\n"
    "s = socket.socket()\n"
    "s.bind(('0.0.0.0', 0))\n"
    "s.listen()\n"
    "print(s.getsockname()[1], flush=True)\n"
    "time.sleep(120)\n"
)


def test_a_listener_outside_any_pod_is_named_as_such(
    two_pods: tuple[SyntheticPod, SyntheticPod],
) -> None:
    first, second = two_pods
    # A debugging shell's kind of process: in the pod's network namespace, in no container.
    stranger = subprocess.Popen(
        ["nsenter", "--net", "-t", str(first.holder_pid), sys.executable, "-c", LISTENER],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stranger.stdout is not None
        port = int(stranger.stdout.readline())
        first_details, second_details = details_of(first.holder_pid, second.holder_pid)
        [entry] = [e for e in first_details.network.listening if e.port == port]
        # nsenter joins only a network namespace, so it execs python in place: same pid.
        assert (entry.owner.kind, entry.owner.pid) == ("outside", stranger.pid)
        assert entry.owner.process.startswith("python")
        assert all(e.port != port for e in second_details.network.listening)
    finally:
        stranger.kill()
        stranger.wait()


def test_a_pod_that_vanished_after_the_scan_gives_reasons_not_errors(tmp_path: Path) -> None:
    pod = start_pod(tmp_path, containers=1)
    snapshot = SnapshotBuilder(ScanConfig()).build()
    scanned = pod_of(snapshot, pod.holder_pid)
    pod.stop()
    details = pod_details(scanned, snapshot)
    assert details.network.interfaces == () and details.network.listening == ()
    reason = f"pid {pod.holder_pid} has exited since the scan; the pod changed: ask again"
    assert details.network.unavailable == {"network": reason}
    assert details.uts.hostname is None and details.uts.unavailable == {"uts": reason}
    assert details.ipc.shm_segments is None and details.ipc.posix_message_queues is None
