"""Run without privilege beside a real podman pod and two pinned network namespaces: nothing is
concluded from what could not be read, every command says what it could not see and why, and
doctor exits with its could-not-check-everything code. As root with every capability, the truly
empty namespace is an orphan and doctor's exit is what the findings say. An unusable kubeconfig
counts as none, with one warning.

The levels: uid 0 with no capability (processes of other uids, and root's processes holding
capabilities, are out of reach) and uid 65534 with none (most of /proc/<pid>/ns is). The truth
is the test's own: which pinned namespace it put a process in (readlink as root, stat of the pin).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.agent_process import AgentProcess, free_port
from harness.cluster_standin import Cluster, serve_cluster
from harness.kube_standin import write_kubeconfig
from harness.podman import SEED_CONTAINERS, container_inspect, kube_play, pod_yaml
from harness.synthetic import readlink_inode, wait_for
from harness.unprivileged import NOBODY, run_unprivileged, setpriv_command

pytestmark = [pytest.mark.root, pytest.mark.podman]

POD = f"nsi-unreadable-{os.getpid()}"
OTHER_UID = 4242  # a uid that is neither the reader's nor root: its processes are unreadable
LEVELS = {"uid0-no-caps": 0, "nobody-no-caps": NOBODY}
BLANK_ENV = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": "/nonexistent"}
WARNING_OR_WORSE = ("warning", "critical")
NO_PODS_HERE = "nsi-f5-no-such-namespace"  # doctor -n: no pod's findings, all of the scan's errors


@dataclass(frozen=True)
class Pins:
    empty: int  # pinned, no process in it
    busy: int  # pinned, a process of OTHER_UID in it
    busy_pid: int
    names: tuple[str, str]


def nsinspect(
    *args: str, uid: int | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """As root with every capability (uid None), or as `uid` with none."""
    environment = env if env is not None else BLANK_ENV
    if uid is None:
        return subprocess.run(
            ["nsinspect", *args], env=environment, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
    return run_unprivileged(["nsinspect", *args], uid, env=environment)


def document(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in result.stderr, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def doctor_exit(doc: dict[str, Any]) -> int:
    """The README's table, applied to a FindingList."""
    if any(item["severity"] in WARNING_OR_WORSE for item in doc["items"]):
        return 1
    return 3 if doc.get("errors") or doc.get("unreachable") else 0


@pytest.fixture(scope="module")
def seed() -> Iterator[dict[str, Any]]:
    with kube_play(pod_yaml(POD, SEED_CONTAINERS)) as inspected:
        yield inspected


@pytest.fixture(scope="module")
def pins() -> Iterator[Pins]:
    empty, busy = f"nsi-f5-empty-{os.getpid()}", f"nsi-f5-busy-{os.getpid()}"
    for name in (empty, busy):
        subprocess.run(["ip", "netns", "add", name], check=True)
    holder = subprocess.Popen(
        ["ip", "netns", "exec", busy, "setpriv", f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}",
         "--clear-groups", "sleep", "600"]
    )  # fmt: skip
    try:
        busy_inode = os.stat(f"/run/netns/{busy}").st_ino
        wait_for(lambda: readlink_inode(holder.pid, "net") == busy_inode, what="sleep in netns")
        yield Pins(os.stat(f"/run/netns/{empty}").st_ino, busy_inode, holder.pid, (empty, busy))
    finally:
        holder.kill()
        holder.wait()
        for name in (empty, busy):
            subprocess.run(["ip", "netns", "delete", name], check=False)


def ours(doc: dict[str, Any], pins: Pins) -> list[dict[str, Any]]:
    """The findings about the test's pod and pins (other tests run beside this one)."""
    return [
        item
        for item in doc["items"]
        if item["pod"] == POD or item["evidence"].get("inode") in (pins.empty, pins.busy)
    ]


@pytest.mark.parametrize("level", LEVELS)
def test_unprivileged_nothing_is_concluded_from_what_could_not_be_read(
    seed: dict[str, Any], pins: Pins, level: str
) -> None:
    uid = LEVELS[level]
    # Other tests run beside this one, and their processes may give real problems that even
    # this level can read: the exact code is checked where no pod can have findings.
    table = nsinspect("doctor", "-n", NO_PODS_HERE, uid=uid)
    assert "Traceback" not in table.stderr, table.stderr
    as_json = nsinspect("doctor", "-o", "json", uid=uid)
    doc = document(as_json)
    assert ours(doc, pins) == [], "a finding concluded from unreadable data"
    # The busy sleep's net link is unreadable at both levels: no net pin is an orphan, the seed
    # pod's live one (podman pins it under /run/netns) included.
    infra = container_inspect(seed["InfraContainerID"])["State"]["Pid"]
    seed_net = readlink_inode(infra, "net")
    assert [f for f in doc["items"] if f["code"] == "OrphanNamespace"] == []
    assert seed_net in {item["inode"] for item in document(nsinspect("ns", "-o", "json"))["items"]}
    # Every finding left must also be a finding with everything read.
    truth = document(nsinspect("doctor", "-o", "json"))
    keys = {(f["code"], f["pod"], f["container"], f["ns_type"]) for f in truth["items"]}
    for item in doc["items"]:
        if item["code"] != "OrphanNamespace":  # other tests' pins come and go meanwhile
            assert (item["code"], item["pod"], item["container"], item["ns_type"]) in keys
    assert table.returncode == 3, table.stderr
    # No finding is an empty list: said on stderr as kubectl says "No resources found", and
    # never as a clean answer.
    assert table.stdout == ""
    assert "every pod shares what it should" not in table.stderr
    empty = [line for line in table.stderr.splitlines() if line.startswith("No findings")]
    assert len(empty) == 1 and "not everything could be" in empty[0], table.stderr
    assert as_json.returncode == doctor_exit(doc) in (1, 3), as_json.stdout
    errors = {(e["stage"], e["reason"]): e for e in doc["errors"]}
    ns = errors[("ns", "EACCES")]
    assert ns["count"] >= 2 and "CAP_SYS_PTRACE" in ns["message"]  # the busy sleep, the pod
    unchecked = errors[("findings", "not checked for OrphanNamespace")]
    assert unchecked["count"] >= 2 and "could not be read (EACCES)" in unchecked["message"]
    # The table's run says the same on stderr, one line per cause (counts move between runs).
    lines = [line for line in table.stderr.splitlines() if line not in empty]
    assert all(line.startswith("warning: ") for line in lines), lines
    said = [
        "the namespaces of ",
        "pinned namespaces were not checked for OrphanNamespace: the net links of ",
    ]
    for part in said:
        assert len([line for line in lines if part in line]) == 1, (part, lines)
    assert "CAP_SYS_PTRACE" in table.stderr
    assert len(lines) < ns["count"]  # not one per process


@pytest.mark.parametrize("level", LEVELS)
def test_unprivileged_every_command_says_what_it_could_not_see(
    seed: dict[str, Any], pins: Pins, level: str
) -> None:
    uid = LEVELS[level]
    pinned = nsinspect("ns", "-o", "json", uid=uid)
    assert pinned.returncode == 0, pinned.stderr
    listing = document(pinned)
    orphans = {o["inode"] for o in listing["orphans"]}
    assert pins.busy not in orphans and pins.empty not in orphans
    assert {pins.busy, pins.empty} <= {item["inode"] for item in listing["items"]}
    assert any(e["stage"] == "findings" for e in listing["errors"])
    assert "warning: " in pinned.stderr and "EACCES" in pinned.stderr
    pods = nsinspect("pods", "-o", "json", uid=uid)
    assert pods.returncode == 0 and document(pods)["errors"], pods.stderr
    if uid == NOBODY:  # podman's state is root's, mode 0700: unseen, not absent
        runtime = [e for e in document(pods)["errors"] if e["stage"] == "runtime"]
        assert runtime and {e["reason"] for e in runtime} == {"EACCES"}, runtime
        assert "could not be read" in runtime[0]["message"]
        listed = {r["path"]: r for r in document(pods)["runtimes"]}
        podman_state = listed["/var/lib/containers/storage"]
        assert podman_state["readable"] is False and podman_state["reason"] == "EACCES"
    process = nsinspect("pid", str(pins.busy_pid), "-o", "json", uid=uid)
    report = document(process)
    assert report["namespaces"]["net"] == {"inode": None, "host": False, "reason": "EACCES"}
    assert any(e.get("count") for e in report["errors"]) and "CAP_SYS_PTRACE" in process.stderr
    busy = nsinspect("ns", f"net:{pins.busy}", uid=uid)
    assert busy.returncode == 0 and "Traceback" not in busy.stderr
    assert "could not be read" in busy.stderr


def test_as_root_the_empty_namespace_is_an_orphan_and_the_busy_one_is_not(
    seed: dict[str, Any], pins: Pins
) -> None:
    result = nsinspect("doctor", "-o", "json")
    doc = document(result)
    orphaned = {f["evidence"]["inode"] for f in doc["items"] if f["code"] == "OrphanNamespace"}
    assert pins.empty in orphaned and pins.busy not in orphaned
    assert [f for f in ours(doc, pins) if f["code"] != "OrphanNamespace"] == []
    assert result.returncode == doctor_exit(doc), doc
    assert not [e for e in doc.get("errors", []) if e["stage"] == "ns"], doc["errors"]
    pinned = document(nsinspect("ns", "-o", "json"))
    assert pins.empty in {o["inode"] for o in pinned["orphans"]}
    assert pins.busy not in {o["inode"] for o in pinned["orphans"]}


# -- an unusable kubeconfig --------------------------------------------------------------------


def local_pods_ran(result: subprocess.CompletedProcess[str], named: bool = True) -> None:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "asking the cluster's agents" not in result.stderr
    assert result.stderr.count("ignoring the kubeconfig") == 1, result.stderr
    if named:
        assert result.stdout.startswith("NAMESPACE "), result.stdout  # the local scan's table
        assert POD in result.stdout
    else:  # nobody cannot read podman's state: the local scan ran, the podman pod is unseen
        # An empty list says so on stderr, as kubectl's does (issue I).
        empty = result.stdout == "" and "No resources found" in result.stderr
        assert result.stdout.startswith("NAMESPACE ") or empty, result.stdout


def private_home(tmp_path: Path, owner: int) -> Path:
    """A HOME with a kubeconfig in it, mode 0700 and owned by `owner`."""
    home = tmp_path / f"home-{owner}"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    for path in (home, home / ".kube", home / ".kube" / "config"):
        os.chown(path, owner, owner)
    home.chmod(0o700)
    return home


def test_an_unreadable_home_counts_as_no_kubeconfig(seed: dict[str, Any], tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # the homes' own mode is what keeps them out of reach
    # uid 0 without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, in a HOME of nobody's.
    home = private_home(tmp_path, NOBODY)
    result = nsinspect("pods", uid=0, env=BLANK_ENV | {"HOME": str(home)})
    local_pods_ran(result)
    assert "EACCES" in result.stderr
    # nobody, in a HOME of root's.
    home = private_home(tmp_path, 0)
    result = nsinspect("pods", uid=NOBODY, env=BLANK_ENV | {"HOME": str(home)})
    if "EACCES" not in result.stderr:
        pytest.fail(f"nobody reached {home} or said nothing: {result.stderr}")
    local_pods_ran(result, named=False)


@pytest.mark.parametrize("kind", ["fifo", "garbage", "unreadable", "directory"])
def test_kubeconfig_naming_what_is_no_kubeconfig_counts_as_none(
    seed: dict[str, Any], tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "config"
    uid: int | None = None
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "garbage":
        path.write_bytes(b"\x00\xff{[ not: yaml")
    elif kind == "directory":
        path.mkdir()
    else:  # a file of nobody's, mode 0600, read by uid 0 without CAP_DAC_OVERRIDE
        path.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
        os.chown(path, NOBODY, NOBODY)
        path.chmod(0o600)
        tmp_path.chmod(0o755)
        uid = 0
    result = nsinspect("pods", uid=uid, env=BLANK_ENV | {"KUBECONFIG": str(path)})
    local_pods_ran(result)
    assert str(path) in result.stderr
    # `pod` decides local or remote before loading the report (to start its helper): still once.
    result = nsinspect("pod", POD, uid=uid, env=BLANK_ENV | {"KUBECONFIG": str(path)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("ignoring the kubeconfig") == 1, result.stderr
    assert result.stdout.startswith(f"Pod:       {POD}\n"), result.stdout


def test_an_unusable_kubeconfig_flag_is_a_usage_error(tmp_path: Path) -> None:
    garbage = tmp_path / "config"
    garbage.write_text("{[")
    result = nsinspect("--kubeconfig", str(garbage), "pods")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "not YAML" in result.stderr


# -- remote: what an agent could not see, and agents that did not answer ------------------------


@pytest.fixture
def capless_agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """The real agent as uid 0 without the capabilities that read other processes: it serves
    what it could not see. It keeps those that hand its server to uid 65534 (setuid, setgid,
    chown, and setpcap to empty the server's bounding set): a server left as uid 0 would
    refuse to start."""
    port, api_port = free_port(), free_port()
    log_path = tmp_path / "agent.log"
    argv = ["nsinspect", "agent", "--bind", "127.0.0.1", "--port", str(port), "--interval", "1",
            "--api-port", str(api_port)]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            setpriv_command(argv, 0, keep=("setuid", "setgid", "chown", "setpcap")),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=BLANK_ENV,
        )
    agent = AgentProcess(process, port, log_path, api_port)
    try:
        agent.wait_ready()
        yield agent
    finally:
        agent.stop()


def test_remote_carries_each_agents_unseen_and_names_its_node(
    seed: dict[str, Any], pins: Pins, capless_agent: AgentProcess, tmp_path: Path
) -> None:
    cluster = Cluster()
    cluster.add_agent("nsinspect-agent-f5", "node-f5", f"127.0.0.1:{capless_agent.port}",
                      f"127.0.0.1:{capless_agent.api_port}")  # fmt: skip
    with serve_cluster(cluster) as port:
        kubeconfig = str(write_kubeconfig(tmp_path / "kubeconfig", port))
        listing = nsinspect("--kubeconfig", kubeconfig, "doctor", "-A", "-o", "json")
        doc = document(listing)
        assert ours(doc, pins) == [] and listing.returncode == doctor_exit(doc), listing.stderr
        assert doc["errors"] and not doc.get("unreachable")
        ns = next(e for e in doc["errors"] if (e["stage"], e["reason"]) == ("ns", "EACCES"))
        agent_node = os.uname().nodename  # the node the agent says it scanned
        assert ns["node"] == agent_node and "CAP_SYS_PTRACE" in ns["message"]
        assert f"warning: node {agent_node}: {ns['message'].split(':')[0]}" in listing.stderr
        # An agent that does not answer: could not check everything, with nothing found.
        dead = f"127.0.0.1:{free_port()}"
        cluster.agents["nsinspect-agent-f5"] = {"9977": dead, "9978": dead}
        silent = nsinspect("--kubeconfig", kubeconfig, "doctor", "-n", NO_PODS_HERE)
        assert silent.returncode == 3, silent.stderr
        assert "the agent on node node-f5 did not answer" in silent.stderr
