"""Every command and output format, and every error, through the real `nsinspect` entry point."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.podman import SEED_CONTAINERS, kube_play, pod_yaml
from harness.synthetic import readlink_inode, wait_for

pytestmark = [pytest.mark.root, pytest.mark.podman]
# The demo's pod, under a name of its own: the CRI test node runs a default/my-nginx-pod, and
# nsinspect finds that node with no flags while it runs.
SEED_POD = "nsi-cli-web"


def nsinspect(*args: str, capabilities: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["nsinspect", *args]
    if not capabilities:
        # Still uid 0 (the package lives under /root), but with no capability at all.
        command = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def seed() -> Iterator[dict[str, Any]]:
    with kube_play(pod_yaml(SEED_POD, SEED_CONTAINERS)) as inspected:
        yield inspected


def pod_json(name: str = SEED_POD) -> dict[str, Any]:
    result = nsinspect("pod", name, "-o", "json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_pod_table_reports_verdicts_and_the_summary(seed: dict[str, Any]) -> None:
    result = nsinspect("pod", SEED_POD)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("CONTAINER"))
    assert header.split() == [
        "CONTAINER",
        "PID",
        "NET",
        "IPC",
        "UTS",
        "PID",
        "MNT",
        "USER",
        "CGROUP",
        "TIME",
    ]
    for name in SEED_CONTAINERS:
        row = next(line.split() for line in lines if line.startswith(name))
        assert row[2:] == ["pod", "pod", "pod", "private", "private", "host", "host", "host"]
        assert int(row[1]) == next(c["pid"] for c in pod_json()["containers"] if c["name"] == name)
    assert (
        "my-nginx-container and ubuntu-sidecar-container share net, ipc and uts with the pause "
        "container; each has its own pid and mnt." in result.stdout
    )
    infra_pid = int(
        next(line for line in lines if line.startswith("Sandbox:")).split("pid ")[1].split()[0]
    )
    assert f"net:[{readlink_inode(infra_pid, 'net')}]" in result.stdout


def test_pod_wide_shows_inodes(seed: dict[str, Any]) -> None:
    result = nsinspect("pod", SEED_POD, "-o", "wide")
    assert result.returncode == 0
    for container in pod_json()["containers"]:
        assert f"pod:{readlink_inode(container['pid'], 'net')}" in result.stdout
        assert container["id"][:12] in result.stdout


def test_pod_json_and_yaml_are_the_same_document(seed: dict[str, Any]) -> None:
    as_json = pod_json()
    as_yaml = yaml.safe_load(nsinspect("pod", SEED_POD, "-o", "yaml").stdout)
    for document in (as_json, as_yaml):
        document.pop("taken_at")
        document.pop("errors")  # pid 1 may or may not be readable between two runs
    assert as_json == as_yaml
    assert as_json["pod"] == {
        "namespace": "",
        "name": SEED_POD,
        "uid": seed["Id"],
        "runtime": "podman",
        "source": "oci-config",
        "labels": seed.get("Labels") or {},  # podman's pod labels (issue I: -l)
    }
    assert as_json["sandbox"]["id"] == seed["InfraContainerID"]


def test_pods_lists_the_seed_pod_and_filters_by_namespace(seed: dict[str, Any]) -> None:
    listing = json.loads(nsinspect("pods", "-o", "json").stdout)
    assert listing["kind"] == "PodList"
    assert SEED_POD in [item["pod"]["name"] for item in listing["items"]]
    table = nsinspect("pods", "-A")
    row = next(line.split() for line in table.stdout.splitlines() if f" {SEED_POD} " in f" {line} ")
    assert row[:3] == ["-", SEED_POD, "podman"]
    assert row[5:9] == ["2/2", "2/2", "2/2", "0/2"]
    filtered = json.loads(nsinspect("pods", "-n", "kube-system", "-o", "json").stdout)
    assert all(item["pod"]["namespace"] == "kube-system" for item in filtered["items"])
    assert SEED_POD not in [item["pod"]["name"] for item in filtered["items"]]
    wide = nsinspect("pods", "-o", "wide")
    assert seed["Id"] in wide.stdout


def test_pid_reports_membership_and_namespaces(seed: dict[str, Any]) -> None:
    nginx = next(c for c in pod_json()["containers"] if c["name"] == "my-nginx-container")
    report = json.loads(nsinspect("pid", str(nginx["pid"]), "-o", "json").stdout)
    assert report["member_of"] == {
        "pod": SEED_POD,
        "container": "my-nginx-container",
        "role": "app",
    }
    assert report["namespaces"]["mnt"]["inode"] == readlink_inode(nginx["pid"], "mnt")
    table = nsinspect("pid", str(nginx["pid"]))
    assert f"pod {SEED_POD}, container my-nginx-container" in table.stdout


@pytest.mark.parametrize("form", ["net:{}", "net:[{}]"])
def test_ns_accepts_both_forms_and_lists_users(seed: dict[str, Any], form: str) -> None:
    sandbox = pod_json()["sandbox"]
    inode = readlink_inode(sandbox["pid"], "net")
    report = json.loads(nsinspect("ns", form.format(inode), "-o", "json").stdout)
    assert (report["type"], report["inode"], report["host"]) == ("net", inode, False)
    assert sandbox["pid"] in [p["pid"] for p in report["processes"]]
    users = {(u["container"], u["role"]) for u in report["users"]}
    assert users == {
        ("", "sandbox"),
        ("my-nginx-container", "app"),
        ("ubuntu-sidecar-container", "app"),
    }
    assert any(path.startswith("/run/netns/") for path in report["pins"])


def test_unknown_pod_names_the_namespace_and_close_names(seed: dict[str, Any]) -> None:
    result = nsinspect("pod", "nsi-cli-wbe")
    assert result.returncode == 1
    assert 'pod "nsi-cli-wbe" not found in any namespace' in result.stderr
    assert f"Did you mean: {SEED_POD} (no namespace)?" in result.stderr
    in_ns = nsinspect("pod", SEED_POD, "-n", "default")
    assert in_ns.returncode == 1
    assert 'not found in namespace "default"' in in_ns.stderr
    assert "Traceback" not in result.stderr + in_ns.stderr


def test_bad_flag_format_and_namespace_argument_exit_2() -> None:
    for args in (
        ["pod", "x", "-o", "toml"],
        ["pods", "--frobnicate"],
        ["ns", "foo:12"],
        ["pid", "abc"],
    ):
        result = nsinspect(*args)
        assert result.returncode == 2, args
        assert "Error" in result.stderr and "Traceback" not in result.stderr


def test_missing_proc_root_is_a_clear_error(tmp_path: Path) -> None:
    result = nsinspect("--proc-root", str(tmp_path / "nowhere"), "pods")
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_unknown_pid_and_namespace() -> None:
    assert nsinspect("pid", "4194304").returncode == 1
    result = nsinspect("ns", "net:1")
    assert result.returncode == 1 and "no process is in net:[1]" in result.stderr


def test_without_privilege_it_says_which_capability_is_missing(seed: dict[str, Any]) -> None:
    # Another user's process: reading its namespace links takes CAP_SYS_PTRACE.
    other_user = subprocess.Popen(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "300"]
    )
    try:
        wait_for(lambda: readlink_comm(other_user.pid) == "sleep", what="sleep as nobody")
        result = nsinspect("pid", str(other_user.pid), "-o", "json", capabilities=False)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert {entry["reason"] for entry in report["namespaces"].values()} == {"EACCES"}
        assert all(entry["inode"] is None for entry in report["namespaces"].values())
        assert "CAP_SYS_PTRACE" in result.stderr and "Traceback" not in result.stderr
    finally:
        other_user.kill()
        other_user.wait()
    # Even root processes are out of reach when they hold capabilities the reader lacks: the
    # pod is still found (by its cgroup and bundle) and its verdicts say why they are unknown.
    pod = nsinspect("pod", SEED_POD, "-o", "json", capabilities=False)
    assert pod.returncode == 0 and "Traceback" not in pod.stderr
    containers = json.loads(pod.stdout)["containers"]
    assert sorted(c["name"] for c in containers) == sorted(SEED_CONTAINERS)
    assert {c["namespaces"]["net"]["verdict"] for c in containers} == {"unknown"}
    assert {c["namespaces"]["net"]["reason"] for c in containers} == {"EACCES"}
    assert "CAP_SYS_PTRACE" in pod.stderr


def readlink_comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()
