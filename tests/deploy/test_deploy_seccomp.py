"""The seccomp overlay's profile (deploy/seccomp/scanner.json) under podman: the agent image, run
as the overlay's scanner container, scans and answers detail requests under it, and a syscall
outside it fails with EPERM where the runtime's default profile allowed it."""

from __future__ import annotations

import copy
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.daemonset_run import (
    SECCOMP_PROFILES,
    container_arguments,
    container_flags,
    podman_run_flags,
    process_status,
)
from harness.manifests import (
    PODMAN_NODE,
    Document,
    agent_pod_spec,
    render,
    scanner_container,
)
from harness.podman import SEED_CONTAINERS, podman

pytestmark = [pytest.mark.root, pytest.mark.podman, pytest.mark.kubectl, pytest.mark.slow]

SEED = "my-nginx-pod"
NOBODY = 65534
PROFILE = {"type": "Localhost", "localhostProfile": "nsinspect/scanner.json"}
# Runs in the scanner's container: a ptrace attach to its own child (CAP_SYS_PTRACE allows it,
# the scanner never does it: it reads /proc) and a new user namespace; 0 or the errno of each.
OUTSIDE_THE_PROFILE = """
import ctypes, json, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
# a process to attach to; the image has Python and no coreutils' sleep
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
def call(result):
    return 0 if result == 0 else ctypes.get_errno()
PTRACE_SEIZE, CLONE_NEWUSER = 0x4206, 0x10000000
found = {"ptrace": call(libc.ptrace(PTRACE_SEIZE, child.pid, None, None)),
         "unshare": call(libc.unshare(CLONE_NEWUSER))}
child.kill()
print(json.dumps(found))
"""


def seccomp_documents() -> tuple[Document, ...]:
    """The image tests' layout (podman's storage) with the seccomp overlay's scanner context:
    the overlay changes only the scanner's seccompProfile, which this test checks first."""
    overlay, base = render("overlays/seccomp"), render("base")
    scanner = copy.deepcopy(scanner_container(overlay))
    assert scanner["securityContext"].pop("seccompProfile") == PROFILE
    assert scanner == scanner_container(base)
    documents = copy.deepcopy(render(PODMAN_NODE))
    scanner_container(documents)["securityContext"]["seccompProfile"] = PROFILE
    return documents


def test_profile_refuses_by_default_and_is_where_the_overlay_names_it() -> None:
    directory, name = PROFILE["localhostProfile"].split("/")
    profile = json.loads((SECCOMP_PROFILES[directory] / name).read_text())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["defaultErrnoRet"] == 1  # EPERM
    [rule] = profile["syscalls"]
    assert rule["action"] == "SCMP_ACT_ALLOW"
    assert {"openat", "readlinkat", "execve", "setns"} <= set(rule["names"])
    # nothing the scanner does not do
    assert not {"ptrace", "unshare", "mount", "bpf", "init_module", "kexec_load"} & set(
        rule["names"]
    )


@pytest.fixture(scope="module")
def scanner_under_profile(
    image: str, seed_pod: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The scanner container under the profile, writing to a directory of this machine where
    the kubelet's emptyDir would be (group fsGroup, setgid, writable by all as emptyDir is)."""
    documents = seccomp_documents()
    results = tmp_path_factory.mktemp("seccomp-results")
    os.chown(results, 0, agent_pod_spec(documents)["securityContext"]["fsGroup"])
    os.chmod(results, 0o2777)
    name = f"nsinspect-seccomp-{os.urandom(4).hex()}"
    podman(
        "run",
        "--detach",
        f"--name={name}",
        *container_flags(documents, "scanner", {"results": str(results)}),
        image,
        *container_arguments(documents, "scanner"),
    )
    try:
        deadline = time.monotonic() + 90
        while not (results / "current" / "pods.json").exists():
            running = podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
            logs = podman("logs", name, check=False).stderr[-3000:]
            assert running == "true" and time.monotonic() < deadline, logs
            time.sleep(1)
        yield name, results
    finally:
        podman("rm", "--force", "--time=0", name, check=False)


def test_scanner_scans_under_its_profile(
    scanner_under_profile: tuple[str, Path], seed_pod: dict[str, Any]
) -> None:
    name, results = scanner_under_profile
    pid = int(podman("inspect", "--format", "{{.State.Pid}}", name).stdout)
    assert process_status(pid)["Seccomp"].strip() == "2"  # a filter is loaded
    document = json.loads((results / "current" / "pods.json").read_text())
    [report] = [item for item in document["items"] if item["pod"]["name"] == SEED]
    assert report["pod"]["uid"] == seed_pod["Id"]
    containers = {c["name"]: c["namespaces"] for c in report["containers"]}
    assert set(containers) == set(SEED_CONTAINERS)
    for container, namespaces in containers.items():
        for ns_type in ("net", "ipc", "uts"):
            assert namespaces[ns_type]["verdict"] == "pod", (container, ns_type)
        assert namespaces["pid"]["verdict"] == "private", container
    assert (results / "current" / "metrics.prom").read_text().endswith("\n")


def ask_detail(socket_path: Path, namespace: str, name: str) -> tuple[str, Any]:
    """The server's side of the detail socket, as the contract frames it."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(30)
        conn.connect(str(socket_path))
        conn.sendall(json.dumps({"namespace": namespace, "name": name}).encode() + b"\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status, _, body = answer.partition(b"\n")
    return status.decode(), json.loads(body)


def test_scanner_answers_detail_requests_under_its_profile(
    scanner_under_profile: tuple[str, Path],
) -> None:
    """A pod's details enter its namespaces from a helper process: the profile allows that."""
    _, results = scanner_under_profile
    status, report = ask_detail(results / "detail.sock", "", SEED)
    assert status == "200", report
    assert report["pod"]["name"] == SEED
    assert {c["name"] for c in report["containers"]} == set(SEED_CONTAINERS)


def syscalls_outside(image: str, flags: list[str]) -> dict[str, int]:
    flags = [f for f in flags if not f.startswith("--entrypoint=")]
    done = podman(
        "run", "--rm", "--entrypoint=python3", *flags, image, "-c", OUTSIDE_THE_PROFILE, check=False
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, int] = json.loads(done.stdout)
    return found


def test_a_syscall_outside_the_profile_fails_with_eperm(image: str) -> None:
    under_profile = syscalls_outside(image, container_flags(seccomp_documents(), "scanner"))
    assert under_profile == {"ptrace": 1, "unshare": 1}  # EPERM
    # The same container under the runtime's default profile: the capability allowed the attach,
    # so the refusal above is the profile's.
    assert syscalls_outside(image, podman_run_flags(render(PODMAN_NODE)))["ptrace"] == 0
