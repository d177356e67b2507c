"""Kubernetes intent through the real agent and the official client, against a stand-in API
server that serves the real API's JSON shapes. The node is a fake proc tree with podman state, so
the pod's uid is known and nothing here needs root.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.agent_process import AgentProcess, free_port, start_agent
from harness.fakepodman import FakePodman, cid, podman_cgroup
from harness.fakeproc import FakeProc
from harness.kube_standin import StandIn, gone_event, pod_object, serve, write_kubeconfig

POD_UID, INFRA, APP = cid(0xA), cid(0xA1), cid(0xA2)
NODE = "node-1"
POD_NS = {"net": 4026532177, "ipc": 4026532251, "uts": 4026532250}


def fake_node(root: Path) -> tuple[Path, Path]:
    """One podman pod whose app container keeps its own pid namespace."""
    proc = FakeProc(root / "proc")
    proc.add(1, "init", ppid=0, start_time=1)
    host = root / "host"
    podman = FakePodman(host)
    podman.add_pod(POD_UID, "web")
    podman.add_container(INFRA, "a-infra")
    podman.add_container(APP, "web-app", sandbox_id=INFRA)
    proc.add(
        300,
        "catatonit",
        namespaces=POD_NS | {"pid": 4026532253},
        cgroup=podman_cgroup(POD_UID, INFRA),
    )
    proc.add(
        310,
        "sleep",
        namespaces=POD_NS | {"pid": 4026532255, "mnt": 4026532254},
        cgroup=podman_cgroup(POD_UID, APP),
    )
    return proc.root, host


def mismatch_lines(metrics: str) -> list[str]:
    return [
        line
        for line in metrics.splitlines()
        if line.startswith("nsinspect_pod_namespace_mismatch{")
    ]


def wait_until(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.1)
    raise TimeoutError("condition not met")


@pytest.fixture
def node(tmp_path: Path) -> tuple[Path, Path]:
    return fake_node(tmp_path)


def agent_for(tmp_path: Path, node: tuple[Path, Path], kubeconfig: Path) -> AgentProcess:
    proc_root, host_root = node
    agent = start_agent(
        tmp_path,
        "--kubeconfig", str(kubeconfig), "--node-name", NODE,
        interval=0.3,
        global_args=("--proc-root", str(proc_root), "--host-root", str(host_root)),
    )  # fmt: skip
    agent.wait_ready()
    return agent


@pytest.fixture
def standin() -> Iterator[tuple[StandIn, int]]:
    state = StandIn()
    state.put(pod_object(POD_UID, "web", "default", NODE, 0, shareProcessNamespace=True))
    with serve(state) as port:
        yield state, port


def test_intent_is_applied_and_a_mismatch_is_reported(
    tmp_path: Path, node: tuple[Path, Path], standin: tuple[StandIn, int]
) -> None:
    state, port = standin
    agent = agent_for(tmp_path, node, write_kubeconfig(tmp_path / "kubeconfig", port))
    try:
        wait_until(lambda: "nsinspect_kube_api_up 1.0" in agent.metrics())
        assert state.list_selectors[0] == f"spec.nodeName={NODE}"
        # The spec asks for one pid namespace (shareProcessNamespace); the kernel shows two.
        wait_until(lambda: mismatch_lines(agent.metrics()))
        [line] = mismatch_lines(agent.metrics())
        assert 'ns_type="pid"' in line and 'expected="POD"' in line and 'container="app"' in line
        findings = agent.get("/api/v1/findings").json()["items"]
        mismatch = next(f for f in findings if f["code"] == "IntentMismatch")
        assert mismatch["evidence"] == {
            "expected": "POD", "actual": "CONTAINER", "source": "kubernetes", "inode": 4026532255,
        }  # fmt: skip
        report = agent.get("/api/v1/pods/-/web").json()
        assert report["intent"]["shareProcessNamespace"] is True
        assert report["intent"]["containers"] == ["app"]
    finally:
        agent.stop()


def test_a_watch_that_ends_in_410_is_resumed_by_listing_again(
    tmp_path: Path, node: tuple[Path, Path], standin: tuple[StandIn, int]
) -> None:
    state, port = standin
    fixed = pod_object(POD_UID, "web", "default", NODE, 0, shareProcessNamespace=False)
    # First watch: the version expired. After the relist, the watch delivers a fix to the spec.
    state.scripted_watches = [[gone_event(100)], [{"type": "MODIFIED", "object": fixed}]]
    agent = agent_for(tmp_path, node, write_kubeconfig(tmp_path / "kubeconfig", port))
    try:
        wait_until(lambda: state.lists >= 2)
        # A scan after the relist: the API is up in it, and the fix the watch brought is applied.
        wait_until(lambda: "nsinspect_kube_api_up 1.0" in agent.metrics())
        wait_until(lambda: not mismatch_lines(agent.metrics()))
        assert "expired (410 Gone)" in agent.log()
        assert len(state.watches) >= 2
    finally:
        agent.stop()


def test_deleted_pod_loses_its_intent(
    tmp_path: Path, node: tuple[Path, Path], standin: tuple[StandIn, int]
) -> None:
    state, port = standin
    state.scripted_watches = [[{"type": "DELETED", "object": state.pods[POD_UID]}]]
    agent = agent_for(tmp_path, node, write_kubeconfig(tmp_path / "kubeconfig", port))
    try:
        wait_until(lambda: agent.get("/api/v1/pods/-/web").json()["intent"] is None)
        assert not mismatch_lines(agent.metrics())
    finally:
        agent.stop()


def test_unreachable_api_leaves_the_agent_ready_on_runtime_data(
    tmp_path: Path, node: tuple[Path, Path]
) -> None:
    closed_port = free_port()  # nothing listens there
    agent = agent_for(tmp_path, node, write_kubeconfig(tmp_path / "kubeconfig", closed_port))
    try:
        ready = agent.get("/readyz")
        assert ready.status == 200
        assert ready.json()["kube_api"]["state"] == "down"
        assert re.search(r"^nsinspect_kube_api_up 0\.0$", agent.metrics(), re.MULTILINE)
        pods = agent.get("/api/v1/pods").json()["items"]
        assert [p["pod"]["name"] for p in pods] == ["web"]
        wait_until(lambda: "Kubernetes API unreachable" in agent.log())
    finally:
        agent.stop()
