"""Names from Kubernetes when only cgroups are readable: real containerd CRI pods, scanned with a
CRI socket where nothing listens and an empty state directory, so kubelet's cgroup layout alone
groups them; the Kubernetes stand-in serves the same pods (uid, name, namespace and each
container's `containerd://<id>`), as the CRI harness made them. The agent and the CLI in local
mode must name every pod and container from the API and say so; with the API down or refusing,
the CLI says so once and lists the pods as cgroups showed them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.agent_process import free_port, start_agent
from harness.cri_node import CriNode, CriPod
from harness.kube_standin import StandIn, pod_object, serve, write_kubeconfig

pytestmark = [pytest.mark.root, pytest.mark.containerd]

NODE = "nsi-names-node"
# The pod whose status names one container with an id the node does not have.
ODD_POD, ODD_CONTAINER = "shared-pid", "sidecar"
UNKNOWN_ID = "f" * 64


def api_pod(pod: CriPod, node: str, misnamed: str = "") -> dict[str, Any]:
    """The pod as the API server shows it, its statuses naming the CRI's container ids."""
    api = pod_object(pod.uid, pod.spec.name, pod.spec.namespace, node, 0)
    api["spec"]["containers"] = [{"name": name, "image": "busybox"} for name in pod.container_ids]
    api["status"]["containerStatuses"] = [
        {"name": name, "containerID": f"containerd://{UNKNOWN_ID if name == misnamed else cid}",
         "ready": True, "restartCount": 0, "image": "busybox", "imageID": ""}
        for name, cid in pod.container_ids.items()
    ]  # fmt: skip
    return api


def cgroups_only(tmp_path: Path) -> tuple[str, ...]:
    """Flags that leave the runtime unreadable: nothing listens on the socket, no state."""
    empty = tmp_path / "no-state"
    empty.mkdir(exist_ok=True)
    socket = str(tmp_path / "nobody-listens.sock")
    return ("--cri-socket", socket, "--runtime-state", f"containerd={empty}")


@pytest.fixture
def standin(cri_pods: dict[str, CriPod]) -> Iterator[tuple[StandIn, int]]:
    state = StandIn()
    for key, pod in cri_pods.items():
        state.put(api_pod(pod, NODE, misnamed=ODD_CONTAINER if key == ODD_POD else ""))
    with serve(state) as port:
        yield state, port


def nsinspect(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "NSINSPECT_CRI_SOCKET")}
    command = ["nsinspect", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, check=False
    )


def by_uid(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["pod"]["uid"]: item for item in items}


def assert_named_by_kubernetes(items: list[dict[str, Any]], pods: dict[str, CriPod]) -> None:
    found = by_uid(items)
    for key, pod in pods.items():
        report = found[pod.uid]["pod"]
        assert (report["namespace"], report["name"]) == (pod.spec.namespace, pod.spec.name)
        assert (report["source"], report["names_from"]) == ("cgroup", "kubernetes")
        containers = {c["id"]: c for c in found[pod.uid]["containers"]}
        assert set(containers) == set(pod.container_ids.values())
        for name, cid in pod.container_ids.items():
            if key == ODD_POD and name == ODD_CONTAINER:
                # Kubernetes names another id: the placeholder stays, and does not say kubernetes.
                assert containers[cid]["name"] == cid[:12]
                assert "names_from" not in containers[cid]
            else:
                assert (containers[cid]["name"], containers[cid]["names_from"]) == (
                    name,
                    "kubernetes",
                )


def assert_placeholders(items: list[dict[str, Any]], pods: dict[str, CriPod]) -> None:
    found = by_uid(items)
    for pod in pods.values():
        report = found[pod.uid]
        assert (report["pod"]["namespace"], report["pod"]["name"]) == ("", f"pod{pod.uid}")
        assert report["pod"]["source"] == "cgroup" and "names_from" not in report["pod"]
        assert {c["name"] for c in report["containers"]} == {
            cid[:12] for cid in pod.container_ids.values()
        }


def test_the_agent_names_cgroup_pods_from_its_watch(
    tmp_path: Path, cri_pods: dict[str, CriPod], standin: tuple[StandIn, int]
) -> None:
    state, port = standin
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", port)
    agent = start_agent(
        tmp_path, "--kubeconfig", str(kubeconfig), "--node-name", NODE,
        interval=0.5, global_args=cgroups_only(tmp_path),
    )  # fmt: skip
    try:
        agent.wait_ready()
        deadline = time.monotonic() + 30
        while True:
            items = agent.get("/api/v1/pods").json()["items"]
            named = {i["pod"]["uid"] for i in items if i["pod"].get("names_from") == "kubernetes"}
            if {p.uid for p in cri_pods.values()} <= named or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert_named_by_kubernetes(items, cri_pods)
        assert state.list_selectors[0] == f"spec.nodeName={NODE}"
        seed = cri_pods["seed"]
        report = agent.get(f"/api/v1/pods/default/{seed.spec.name}").json()
        assert report["pod"]["uid"] == seed.uid and report["intent"]["containers"] == list(
            seed.container_ids
        )
        # The metrics carry the same names, so kube-state-metrics joins work on such a node.
        info = [
            line
            for line in agent.metrics().splitlines()
            if line.startswith("nsinspect_pod_sandbox_info{") and f'uid="{seed.uid}"' in line
        ]
        assert len(info) == 1 and f'namespace="default",pod="{seed.spec.name}"' in info[0], info
    finally:
        agent.stop()


def test_the_cli_in_local_mode_names_them_from_one_listing(
    tmp_path: Path, cri_pods: dict[str, CriPod], standin: tuple[StandIn, int]
) -> None:
    state, port = standin
    kubeconfig = str(write_kubeconfig(tmp_path / "kubeconfig", port))
    flags = ("--local", "--kubeconfig", kubeconfig, *cgroups_only(tmp_path))
    listed = nsinspect(*flags, "pods", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr and "no names from Kubernetes" not in listed.stderr
    assert_named_by_kubernetes(json.loads(listed.stdout)["items"], cri_pods)
    assert state.lists == 1 and not state.watches
    assert state.list_selectors == [f"spec.nodeName={os.uname().nodename}"]

    seed = cri_pods["seed"]
    one = nsinspect(*flags, "pod", seed.spec.name, "-n", "default", "-o", "json")
    assert one.returncode == 0, one.stderr
    report = json.loads(one.stdout)
    assert (report["pod"]["uid"], report["pod"]["names_from"]) == (seed.uid, "kubernetes")
    table = nsinspect(*flags, "pods")
    assert table.returncode == 0 and seed.spec.name in table.stdout
    doctor = nsinspect(*flags, "doctor", "-o", "json")
    assert "Traceback" not in doctor.stderr
    assert doctor.returncode in (0, 1, 3), doctor.stderr  # findings, not a failure to run


@pytest.mark.parametrize("api", ["down", "forbidden"])
def test_without_the_api_the_cli_warns_once_and_lists_placeholders(
    tmp_path: Path, cri_pods: dict[str, CriPod], api: str
) -> None:
    state = StandIn(refuse=403)
    with serve(state) as forbidden_port:
        port = free_port() if api == "down" else forbidden_port  # nothing listens on a free port
        kubeconfig = str(write_kubeconfig(tmp_path / "kubeconfig", port))
        started = time.monotonic()
        listed = nsinspect(
            "--local", "--kubeconfig", kubeconfig, *cgroups_only(tmp_path), "pods", "-o", "json"
        )
        elapsed = time.monotonic() - started
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    warnings = [line for line in listed.stderr.splitlines() if "no names from Kubernetes" in line]
    assert len(warnings) == 1, listed.stderr
    # The API's failure in kubectl's words: the Status's message whole, or the refused port.
    said = (
        'Error from server (Forbidden): pods is forbidden: User "standin" cannot list resource '
        '"pods" in API group "" at the cluster scope'
        if api == "forbidden"
        else f"The connection to the server 127.0.0.1:{port} was refused - did you specify the "
        "right host or port?"
    )
    assert f"({said})" in warnings[0], warnings[0]
    assert_placeholders(json.loads(listed.stdout)["items"], cri_pods)
    assert elapsed < 20, f"{elapsed:.1f} s"


def test_a_runtime_that_answers_needs_no_listing(
    tmp_path: Path, cri_node: CriNode, cri_pods: dict[str, CriPod], standin: tuple[StandIn, int]
) -> None:
    """Names from the CRI are the runtime's: the CLI does not ask the API server at all."""
    state, port = standin
    kubeconfig = str(write_kubeconfig(tmp_path / "kubeconfig", port))
    listed = nsinspect(
        "--local", "--kubeconfig", kubeconfig, "--cri-socket", cri_node.socket, "pods", "-o", "json"
    )
    assert listed.returncode == 0, listed.stderr
    found = by_uid(json.loads(listed.stdout)["items"])
    for pod in cri_pods.values():
        assert (
            found[pod.uid]["pod"]["source"] == "cri" and "names_from" not in found[pod.uid]["pod"]
        )
    assert state.lists == 0
