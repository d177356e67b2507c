"""Findings made to happen on real podman pods and real namespaces, through `nsinspect doctor`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from harness.podman import (
    BUSYBOX_IMAGE,
    container_inspect,
    kube_play,
    pod_inspect,
    pod_yaml,
    podman,
    remove_pod,
)

pytestmark = [pytest.mark.root, pytest.mark.podman]


def doctor() -> tuple[int, list[dict[str, Any]]]:
    result = subprocess.run(
        ["nsinspect", "doctor", "-o", "json"], capture_output=True, text=True, check=False
    )
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)["items"]


def of_pod(findings: list[dict[str, Any]], pod: str) -> list[tuple[str, str]]:
    return sorted((f["code"], f["ns_type"]) for f in findings if f["pod"] == pod)


def infra_pid(pod: str) -> int:
    pid: int = container_inspect(pod_inspect(pod)["InfraContainerID"])["State"]["Pid"]
    return pid


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_network_torn_down(container: str) -> None:
    """Wait for podman's cleanup (run by conmon after the exit) to release the network namespace.

    Started before that, podman starts the container again in the namespace it still holds.
    """
    deadline = time.monotonic() + 20
    while container_inspect(container)["NetworkSettings"].get("SandboxKey"):
        assert time.monotonic() < deadline, "podman kept the network of the killed infra"
        time.sleep(0.1)


@pytest.fixture
def pod() -> Iterator[str]:
    name = f"nsi-doctor-{uuid.uuid4().hex[:6]}"
    with kube_play(pod_yaml(name, {"app": ["sleep", "100000"]})):
        yield name


def test_healthy_pod_has_no_findings(pod: str) -> None:
    _, findings = doctor()
    assert of_pod(findings, pod) == []


def test_sandbox_missing_when_the_pause_process_is_killed(pod: str) -> None:
    pid = infra_pid(pod)
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    code, findings = doctor()
    assert of_pod(findings, pod) == [("SandboxMissing", "")]
    assert code == 1


def test_container_not_in_pod_network_when_the_pause_is_replaced(pod: str) -> None:
    """Kill the infra and start it again: podman gives it a new network namespace, while the
    app container, still running, stays in the old one."""
    old = infra_pid(pod)
    old_net = os.readlink(f"/proc/{old}/ns/net")
    os.kill(old, signal.SIGKILL)
    wait_gone(old)
    infra = pod_inspect(pod)["InfraContainerID"]
    wait_network_torn_down(infra)
    podman("start", infra)
    new = infra_pid(pod)
    assert new != old
    assert os.readlink(f"/proc/{new}/ns/net") != old_net
    code, findings = doctor()
    assert of_pod(findings, pod) == [
        ("ContainerNotInPodIPC", "ipc"),
        ("ContainerNotInPodNetwork", "net"),
        ("ContainerNotInPodUTS", "uts"),
    ]
    network = next(
        f for f in findings if f["pod"] == pod and f["code"] == "ContainerNotInPodNetwork"
    )
    assert network["severity"] == "critical"
    assert f"net:[{network['evidence']['container_inode']}]" == old_net
    assert code == 1


def test_host_network_pod() -> None:
    name = f"nsi-hostnet-{uuid.uuid4().hex[:6]}"
    with kube_play(pod_yaml(name, {"app": ["sleep", "100000"]}, hostNetwork=True)):
        _, findings = doctor()
        assert ("HostNamespaceShared", "net") in of_pod(findings, name)


def test_cross_pod_namespace(pod: str) -> None:
    """A container of another pod joins this pod's network namespace by path."""
    other = f"nsi-cross-{uuid.uuid4().hex[:6]}"
    net_path = f"/proc/{infra_pid(pod)}/ns/net"
    podman("pod", "create", "--name", other, "--share", "ipc,uts")
    try:
        podman("run", "-d", "--pod", other, "--name", f"{other}-app", "--network", f"ns:{net_path}",
               BUSYBOX_IMAGE, "sleep", "100000")  # fmt: skip
        _, findings = doctor()
        assert ("CrossPodNamespace", "net") in of_pod(findings, other)
        cross = next(f for f in findings if f["pod"] == other and f["code"] == "CrossPodNamespace")
        assert cross["evidence"]["other_pod"] == pod
        assert of_pod(findings, pod) == []  # the pod whose namespace it is did nothing wrong
    finally:
        remove_pod(other)


def test_orphan_namespace_from_a_leaked_netns() -> None:
    name = f"nsi-leak-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        inode = os.stat(f"/run/netns/{name}").st_ino
        _, findings = doctor()
        orphans = [f for f in findings if f["code"] == "OrphanNamespace"]
        assert {"inode": inode, "path": f"/run/netns/{name}"} in [f["evidence"] for f in orphans]
        assert all(f["severity"] == "info" for f in orphans)
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)
