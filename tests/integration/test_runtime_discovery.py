"""Runtimes found with no flags: the real CRI node at k3s's layout and at an arbitrary temp path.

`nsinspect pods` runs as a user would, with no --cri-socket and no --runtime-state: every pod the
test created over CRI must come back with its namespace, name, uid and container names (the truth:
the harness's PodSpec and CRI's own ContainerStatus), found through the socket and state
directory that containerd's processes name. With containerd stopped (its shims outlive it), the
same names come from the task bundles. Beside them a podman pod, and processes that only pretend
to be a shim, which must not become a runtime location.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cri_node import CriNode, CriPod, PodSpec
from harness.podman import kube_play, pod_yaml
from harness.synthetic import wait_for

pytestmark = [pytest.mark.root, pytest.mark.containerd]

K3S_SOCKET = "/run/k3s/containerd/containerd.sock"
K3S_STATE = "/run/k3s/containerd"
SHIM_EXES = {"containerd-shim", "containerd-shim-runc-v2", "containerd-shim-runc-v1"}
PODMAN_POD = "nsi-discovery-podman"
TAIL = ["tail", "-f", "/dev/null"]


def pod_specs(prefix: str) -> list[PodSpec]:
    return [
        PodSpec(f"{prefix}-web", {"web": TAIL, "log-shipper": TAIL}, namespace="nsi-discovery"),
        PodSpec(f"{prefix}-shared-pid", {"app": TAIL}, namespace="nsi-discovery", pid="POD"),
    ]


def run_node(node: CriNode, prefix: str) -> Iterator[tuple[CriNode, list[CriPod]]]:
    try:
        node.start()
        pods = [node.run_pod(spec) for spec in pod_specs(prefix)]
        yield node, pods
    finally:
        node.stop()


@pytest.fixture(scope="module")
def k3s_node(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[CriNode, list[CriPod]]]:
    if os.path.lexists("/run/k3s"):
        pytest.skip("/run/k3s exists: a real k3s or RKE2 may live here; not touching it")
    node = CriNode(tmp_path_factory.mktemp("k3s-lab"), socket=K3S_SOCKET, state_dir=K3S_STATE)
    yield from run_node(node, "nsi-k3s")
    assert not os.path.lexists("/run/k3s"), "the node made /run/k3s and must remove it"


@pytest.fixture(scope="module")
def anywhere_node(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[CriNode, list[CriPod]]]:
    root = tmp_path_factory.mktemp("anywhere")
    node = CriNode(
        root / "lab", socket=str(root / "sockets" / "cri.sock"), state_dir=str(root / "st")
    )
    yield from run_node(node, "nsi-anywhere")


@pytest.fixture(params=["k3s", "anywhere"])
def node(request: pytest.FixtureRequest) -> tuple[CriNode, list[CriPod]]:
    found: tuple[CriNode, list[CriPod]] = request.getfixturevalue(f"{request.param}_node")
    return found


def nsinspect(*args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, as a user runs it: no runtime flags."""
    return subprocess.run(
        ["nsinspect", "--local", *args], capture_output=True, text=True, timeout=120, check=False
    )


def pod_list() -> dict[str, Any]:
    result = nsinspect("pods", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    listing: dict[str, Any] = json.loads(result.stdout)
    return listing


def cri_names(node: CriNode, pods: list[CriPod]) -> dict[str, str]:
    """Container id -> name, as the CRI itself answers (while containerd runs)."""
    return {
        container_id: node.container_status(container_id).status.metadata.name
        for pod in pods
        for container_id in pod.container_ids.values()
    }


def check_named(
    truth: dict[str, str], pods: list[CriPod], listing: dict[str, Any], source: str
) -> None:
    by_uid = {item["pod"]["uid"]: item for item in listing["items"]}
    for pod in pods:
        item = by_uid[pod.uid]
        assert item["pod"] == {
            "namespace": pod.spec.namespace,
            "name": pod.spec.name,
            "uid": pod.uid,
            "runtime": "containerd",
            "source": source,
        } | ({"labels": pod.spec.labels} if source == "cri" else {})
        assert item["sandbox"]["id"] == pod.sandbox_id
        containers = {c["name"]: c["id"] for c in item["containers"]}
        assert containers == pod.container_ids
        assert set(containers) == set(pod.spec.containers)
        assert {truth[container_id]: container_id for container_id in containers.values()} == (
            containers
        )


def exe_of(pid: int) -> str:
    return os.path.basename(os.readlink(f"/proc/{pid}/exe"))


def cmdline_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def locations(listing: dict[str, Any], path: str) -> list[dict[str, Any]]:
    return [r for r in listing["runtimes"] if r["path"] == path]


def test_pods_named_with_no_flags(node: tuple[CriNode, list[CriPod]]) -> None:
    cri_node, pods = node
    listing = pod_list()
    check_named(cri_names(cri_node, pods), pods, listing, "cri")
    [socket] = locations(listing, cri_node.socket)
    assert (socket["runtime"], socket["what"], socket["found_by"]) == (
        "containerd",
        "cri-socket",
        "process",
    )
    assert socket["readable"] is True
    # The process it names is containerd itself or one of its shims, and says so.
    pid = socket["pid"]
    assert exe_of(pid) == socket["exe"]
    assert socket["exe"] in SHIM_EXES | {"containerd"}
    if socket["exe"] == "containerd":
        assert cri_node.process is not None and pid == cri_node.process.pid
    else:
        assert cri_node.socket in cmdline_of(pid)
    [state] = locations(listing, cri_node.state_dir)
    assert (state["runtime"], state["what"], state["found_by"], state["readable"]) == (
        "containerd",
        "state-dir",
        "process",
        True,
    )


def test_named_from_bundles_when_the_socket_does_not_answer(
    node: tuple[CriNode, list[CriPod]],
) -> None:
    cri_node, pods = node
    truth = cri_names(cri_node, pods)
    cri_node.stop_daemon()
    try:
        pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
        shims = [pid for pid in pids if is_shim_of(pid, cri_node)]
        assert shims, "the shims outlive containerd"
        listing = pod_list()
        check_named(truth, pods, listing, "oci-config")
        [state] = locations(listing, cri_node.state_dir)
        assert (state["found_by"], state["argument"], state["readable"]) == ("process", "cwd", True)
        assert state["exe"] in SHIM_EXES and state["pid"] in shims
        [socket] = locations(listing, cri_node.socket)
        assert (socket["found_by"], socket["argument"], socket["readable"]) == (
            "process",
            "-address",
            False,
        )
        assert socket["pid"] in shims and socket["reason"]
    finally:
        cri_node.restart_daemon()


def is_shim_of(pid: int, cri_node: CriNode) -> bool:
    try:
        return exe_of(pid) in SHIM_EXES and cri_node.socket in cmdline_of(pid)
    except OSError:
        return False


@pytest.mark.podman
def test_side_by_side_with_podman_and_in_the_wide_table(
    k3s_node: tuple[CriNode, list[CriPod]],
) -> None:
    cri_node, pods = k3s_node
    with kube_play(pod_yaml(PODMAN_POD, {"app": TAIL})) as podman_pod:
        listing = pod_list()
        check_named(cri_names(cri_node, pods), pods, listing, "cri")
        by_uid = {item["pod"]["uid"]: item for item in listing["items"]}
        podman = by_uid[podman_pod["Id"]]["pod"]
        assert (podman["name"], podman["runtime"]) == (PODMAN_POD, "podman")
        wide = nsinspect("pods", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    lines = wide.stdout.splitlines()
    rows = [line.split() for line in lines]
    for pod in pods:
        assert [pod.spec.namespace, pod.spec.name, "containerd"] in [row[:3] for row in rows]
    assert ["-", PODMAN_POD, "podman"] in [row[:3] for row in rows]
    section = lines[lines.index("Runtimes:") :]
    socket_rows = [line.split() for line in section if K3S_SOCKET in line.split()]
    assert socket_rows and socket_rows[0][:3] == ["containerd", "cri-socket", K3S_SOCKET]
    assert socket_rows[0][3] == "process:" and socket_rows[0][-1] == "read"


# -- processes that pretend to be a shim ---------------------------------------------------------


def fake_shim(command: list[str], cwd: str, user: int | None = None) -> subprocess.Popen[bytes]:
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user else []
    return subprocess.Popen([*prefix, *command], cwd=cwd, start_new_session=True)


def test_pretended_shims_are_no_runtime_location(
    anywhere_node: tuple[CriNode, list[CriPod]],
) -> None:
    container_id = "ab" * 32
    work = Path(tempfile.mkdtemp(prefix="nsi-fake-shim-"))
    os.chmod(work, 0o755)
    try:
        state = work / "evil-state"
        bundle = state / "io.containerd.runtime.v2.task" / "k8s.io" / container_id
        bundle.mkdir(parents=True)
        os.chmod(bundle, 0o755)
        for parent in bundle.parents:
            if parent == work:
                break
            os.chmod(parent, 0o755)
        evil_socket = str(work / "evil.sock")
        args = ["-namespace", "k8s.io", "-id", container_id, "-address", evil_socket]
        sleeper = ["-c", "import time; time.sleep(120)"]
        # A copy of an interpreter called like the shim, owned by nobody (not root's, not ours).
        mine = work / "mine"
        mine.mkdir(mode=0o755)
        copy = mine / "containerd-shim-runc-v2"
        shutil.copy2(sys.executable, copy)
        os.chown(copy, 65534, 65534)
        # A root-owned copy, run by nobody.
        owned = work / "owned"
        owned.mkdir(mode=0o755)
        root_copy = owned / "containerd-shim-runc-v2"
        shutil.copy2(sys.executable, root_copy)
        os.chmod(root_copy, 0o755)
        renamer = (
            "import ctypes, time; ctypes.CDLL(None).prctl(15, b'containerd-shim', 0, 0, 0); "
            "time.sleep(120)"
        )
        fakes = [
            fake_shim([str(copy), *sleeper, *args], str(bundle)),
            fake_shim([str(root_copy), *sleeper, *args], str(bundle), user=65534),
            # The real interpreter that only renamed itself (comm): its exe says python.
            fake_shim([sys.executable, "-c", renamer, *args], str(bundle)),
        ]
        try:
            wait_for(lambda: all(comm_of(p.pid) == "containerd-shim" for p in fakes), 10, "comms")
            listing = pod_list()
            paths = {r["path"] for r in listing["runtimes"]}
            assert evil_socket not in paths and str(state) not in paths, listing["runtimes"]
            # The real node beside them is still found.
            assert anywhere_node[0].socket in paths
        finally:
            for fake in fakes:
                fake.kill()
                fake.wait()
    finally:
        shutil.rmtree(work)


def comm_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
