"""Issue G: a runtime that restarts, and pods replaced under the same name, while the agent scans.

The real CRI node's containerd is killed (SIGKILL, then SIGTERM, then SIGKILL again) and started
again with the same configuration while the agent scans every 0.2 s through its socket; its pod
and a podman pod are then each replaced by a new pod of the same name. The agent must stay ready
throughout and converge on the next scans: the pod again known through the CRI with the right
sandbox pid after each restart, and after each replacement the new pod's ids and pids present,
the old ones gone.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from harness.agent_watch import AgentWatch, PodTruth, watched_agent
from harness.cri_node import CriNode, CriPod, PodSpec
from harness.podman import kube_play, pod_yaml, remove_pod
from nsinspect.agent.runtimes.cri_api import runtime_v1_pb2 as cri
from nsinspect.agent.runtimes.cri_api import runtime_v1_pb2_grpc as cri_grpc

pytestmark = [pytest.mark.root, pytest.mark.containerd, pytest.mark.podman]

INTERVAL = 0.2
CRI_POD = PodSpec("nsi-restarted", {"app": ["tail", "-f", "/dev/null"]})
PODMAN_POD = "nsi-replaced"
PODMAN_CONTAINERS = {"app": ["tail", "-f", "/dev/null"]}
CONVERGE_SECONDS = 30.0


def restart_containerd(node: CriNode, signum: signal.Signals) -> None:
    """End the node's containerd by pid with `signum` and start it again as CriNode.start does
    (same config, log appended, same RLIMIT_NOFILE); the node then tears down the new one."""
    assert node.process is not None
    node.process.send_signal(signum)
    node.process.wait(timeout=20)
    with open(node.lab / "logs" / "containerd.log", "ab") as log:
        node.process = subprocess.Popen(
            ["containerd", "--config", str(node.lab / "config.toml")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.prlimit(node.process.pid, resource.RLIMIT_NOFILE, (hard, hard))
    # A fresh channel: the old one would wait out its reconnect back-off.
    if node.channel is not None:
        node.channel.close()
    node.channel = grpc.insecure_channel(f"unix://{node.socket}")
    stub = cri_grpc.RuntimeServiceStub(node.channel)
    deadline = time.monotonic() + 30
    while True:
        try:
            stub.Version(cri.VersionRequest(version="v1"), timeout=1)
            return
        except grpc.RpcError:
            if time.monotonic() > deadline or node.process.poll() is not None:
                raise
            time.sleep(0.05)


def cri_problems(node: CriNode, pod: CriPod, pod_list: dict[str, Any]) -> list[str]:
    """How the agent is wrong about a CRI pod: identity, source, sandbox and container pids."""
    found = [p for p in pod_list["items"] if p["pod"]["name"] == pod.spec.name]
    if len(found) != 1:
        return [f"{len(found)} pods named {pod.spec.name}: {[p['pod'] for p in found]}"]
    item = found[0]
    wrong = []
    identity = (item["pod"]["uid"], item["pod"]["source"], item["sandbox"]["id"])
    if identity != (pod.uid, "cri", pod.sandbox_id):
        wrong.append(f"pod {identity}")
    sandbox_pid = json.loads(node.status(pod).info["info"])["pid"]
    if item["sandbox"]["pid"] != sandbox_pid:
        wrong.append(f"sandbox pid {item['sandbox']['pid']} != {sandbox_pid}")
    pids = {
        cid: json.loads(node.container_status(cid).info["info"])["pid"]
        for cid in pod.container_ids.values()
    }
    seen = {c["id"]: c["pid"] for c in item["containers"]}
    if seen != pids:
        wrong.append(f"containers {seen} != {pids}")
    return wrong


def converge(watch: AgentWatch, problems: Callable[[dict[str, Any]], list[str]]) -> float:
    """Seconds until a snapshot taken from now on has no problems; AssertionError at the limit."""
    started = time.time()
    deadline = time.monotonic() + CONVERGE_SECONDS
    last: list[str] = ["no snapshot taken since"]
    while time.monotonic() < deadline:
        pods = watch.agent.get("/api/v1/pods", timeout=10).json()
        if pods["taken_at"] > started:
            last = problems(pods)
            if not last:
                return time.time() - started
        time.sleep(0.1)
    raise AssertionError(f"not converged in {CONVERGE_SECONDS} s: {last}")


def podman_problems(old: PodTruth, new: PodTruth) -> Callable[[dict[str, Any]], list[str]]:
    def problems(pod_list: dict[str, Any]) -> list[str]:
        uids = {p["pod"]["uid"] for p in pod_list["items"]}
        stale = [f"the old pod {old.uid[:12]} is still listed"] if old.uid in uids else []
        return stale + new.problems(pod_list)

    return problems


def test_runtime_restart(cri_node: CriNode, tmp_path: Path) -> None:
    manifest = pod_yaml(PODMAN_POD, PODMAN_CONTAINERS)
    cri_pod = cri_node.run_pod(CRI_POD)
    made = [cri_pod]
    waits = {}
    try:
        with (
            kube_play(manifest),
            watched_agent(
                tmp_path, interval=INTERVAL,
                global_args=("--cri-socket", cri_node.socket,
                             "--runtime-state", f"containerd={cri_node.state_dir}"),
            ) as watch,
        ):  # fmt: skip
            started = watch.mark()
            old_podman = PodTruth.of_podman_pod(PODMAN_POD)
            waits["first"] = converge(watch, lambda pods: cri_problems(cri_node, cri_pod, pods))
            for n, signum in enumerate((signal.SIGKILL, signal.SIGTERM, signal.SIGKILL)):
                restart_containerd(cri_node, signum)
                waits[f"restart {n + 1} ({signum.name})"] = converge(
                    watch, lambda pods: cri_problems(cri_node, cri_pod, pods)
                )
            old_cri = cri_pod
            cri_node.remove_pod(old_cri)
            new_cri = cri_node.run_pod(CRI_POD)
            made.append(new_cri)

            def cri_replaced(pods: dict[str, Any]) -> list[str]:
                uids = {p["pod"]["uid"] for p in pods["items"]}
                stale = ["the old CRI pod is still listed"] if old_cri.uid in uids else []
                return stale + cri_problems(cri_node, new_cri, pods)

            waits["CRI pod replaced"] = converge(watch, cri_replaced)
            remove_pod(PODMAN_POD)
            with kube_play(manifest):
                new_podman = PodTruth.of_podman_pod(PODMAN_POD)
                assert new_podman.uid != old_podman.uid
                waits["podman pod replaced"] = converge(
                    watch, podman_problems(old_podman, new_podman)
                )
                window = watch.window(started, watch.mark())
    finally:
        for pod in made:
            if pod in cri_node.pods:
                cri_node.remove_pod(pod)

    print("seconds to converge:", {what: round(s, 2) for what, s in waits.items()})
    figures = f"ready {window.ready_share:.1%}, healthy {window.healthy_share:.1%}"
    not_ready, healthy = len(window.not_ready()), window.healthy_share
    assert not_ready == 0, figures
    assert healthy == 1.0, figures
