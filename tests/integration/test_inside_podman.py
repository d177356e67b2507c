"""Inside a real podman pod made from the seed's YAML: every detail against an independent truth.

The truths: `podman inspect` (address, MAC), the node's /sys/class/net and `ip -d -j link`
(the veth pair and the bridge), a real request from the sidecar, `hostname` and `ipcs` run
inside the pod, `ls /dev/mqueue` in a container, readlink(1) for the namespaces in the picture.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from harness.podman import container_inspect, kube_play, pod_yaml, podman
from harness.synthetic import readlink_inode

pytestmark = [pytest.mark.root, pytest.mark.podman]

SEED_YAML = Path(__file__).resolve().parents[2] / "examples" / "my-nginx-pod.yaml"
SUFFIX = uuid.uuid4().hex[:6]
WEB = f"nsi5-web-{SUFFIX}"
OTHER = f"nsi5-other-{SUFFIX}"
NO_CAPS = ("setpriv", "--inh-caps=-all", "--bounding-set=-all", "--")
PTRACE_ONLY = ("setpriv", "--inh-caps=-all", "--bounding-set=-all,+sys_ptrace", "--")


def seed_manifest(name: str) -> str:
    """The seed pod's own YAML under another name, without `ports:` (podman would publish them)."""
    manifest = yaml.safe_load(SEED_YAML.read_text())
    manifest["metadata"]["name"] = name
    for container in manifest["spec"]["containers"]:
        container.pop("ports", None)
    return yaml.safe_dump(manifest)


@pytest.fixture(scope="module")
def pods() -> Iterator[dict[str, dict[str, Any]]]:
    with (
        kube_play(seed_manifest(WEB)) as web,
        kube_play(pod_yaml(OTHER, {"app": ["sleep", "100000"]})) as other,
    ):
        yield {WEB: web, OTHER: other}


def nsinspect(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, "nsinspect", *args], capture_output=True, text=True, timeout=120, check=False
    )


def report(name: str, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    result = nsinspect("pod", name, "-o", "json", prefix=prefix)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def infra_pid(inspected: dict[str, Any]) -> int:
    pid: int = container_inspect(inspected["InfraContainerID"])["State"]["Pid"]
    return pid


def container_pid(pod: str, container: str) -> int:
    pid: int = container_inspect(f"{pod}-{container}")["State"]["Pid"]
    return pid


def interface(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(i for i in document["network"]["interfaces"] if i["name"] == name)


def svg_text(svg: str) -> str:
    """The text an SVG shows (Graphviz escapes `-` as `&#45;` in the source)."""
    return "\n".join(ElementTree.fromstring(svg).itertext())


def sys_net(interface_name: str, attribute: str) -> str:
    return Path(f"/sys/class/net/{interface_name}/{attribute}").read_text().strip()


def test_eth0_is_the_address_podman_assigned(pods: dict[str, dict[str, Any]]) -> None:
    eth0 = interface(report(WEB), "eth0")
    [network] = container_inspect(pods[WEB]["InfraContainerID"])["NetworkSettings"][
        "Networks"
    ].values()
    assert f"{network['IPAddress']}/{network['IPPrefixLen']}" in eth0["addresses"]
    assert eth0["mac"] == network["MacAddress"]
    assert (eth0["kind"], eth0["state"]) == ("veth", "UP")


def test_the_host_side_veth_found_is_really_the_peer(pods: dict[str, dict[str, Any]]) -> None:
    eth0 = interface(report(WEB), "eth0")
    peer = eth0["peer"]
    assert peer["namespace"] == "host" and peer["name"]
    # The node's own view of that interface: its index, and the index its other end has.
    assert int(sys_net(peer["name"], "ifindex")) == peer["index"]
    assert int(sys_net(peer["name"], "iflink")) == eth0["index"]
    assert Path(f"/sys/class/net/{peer['name']}/master").resolve().name == peer["master"]["name"]
    assert Path(f"/sys/class/net/{peer['master']['name']}/bridge").is_dir()
    # And the pod's view, from inside its namespace with iproute2.
    inside = subprocess.run(
        [
            "nsenter",
            "-n",
            "-t",
            str(infra_pid(pods[WEB])),
            "ip",
            "-d",
            "-j",
            "link",
            "show",
            "eth0",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    [link] = json.loads(inside.stdout)
    assert (link["ifindex"], link["link_index"]) == (eth0["index"], peer["index"])


def test_port_80_is_nginxs_and_the_sidecar_reaches_it_at_localhost(
    pods: dict[str, dict[str, Any]],
) -> None:
    document = report(WEB)
    httpd = container_pid(WEB, "my-nginx-container")
    [entry] = [e for e in document["network"]["listening"] if e["port"] == 80]
    assert (entry["protocol"], entry["owner"], entry["container"]) == (
        "tcp",
        "container",
        "my-nginx-container",
    )
    assert (entry["pid"], entry["process"]) == (httpd, "httpd")
    table = nsinspect("pod", WEB)
    assert table.returncode == 0, table.stderr
    endpoint = "[::]:80" if entry["family"] == "ipv6" else "0.0.0.0:80"
    assert (
        f"{endpoint}/tcp — my-nginx-container (httpd, pid {httpd}). "
        "Every container of this pod reaches it at localhost:80."
    ) in table.stdout
    # What the report claims, done: the sidecar runs no server, yet localhost:80 answers.
    fetched = podman(
        "exec", f"{WEB}-ubuntu-sidecar-container", "wget", "-qO-", "http://localhost:80/"
    )
    assert "hello from my-nginx-container" in fetched.stdout


def test_hostname_is_the_pod_name(pods: dict[str, dict[str, Any]]) -> None:
    uts = report(WEB)["uts"]
    in_sidecar = podman("exec", f"{WEB}-ubuntu-sidecar-container", "hostname").stdout.strip()
    assert uts["hostname"] == in_sidecar == WEB
    assert uts["matches_pod_name"] is True


def test_ipc_objects_count_in_their_pod_only(pods: dict[str, dict[str, Any]]) -> None:
    before = {name: report(name)["ipc"] for name in (WEB, OTHER)}
    assert before[WEB]["posix_message_queues"] == 0
    pid = infra_pid(pods[WEB])
    subprocess.run(["nsenter", "--ipc", "-t", str(pid), "ipcmk", "--shmem", "8192"], check=True)
    subprocess.run(["nsenter", "--ipc", "-t", str(pid), "ipcmk", "--queue"], check=True)
    podman("exec", f"{WEB}-my-nginx-container", "sh", "-c", ": > /dev/mqueue/nsi5-queue")
    after = {name: report(name)["ipc"] for name in (WEB, OTHER)}
    listed = podman("exec", f"{WEB}-ubuntu-sidecar-container", "ls", "/dev/mqueue").stdout.split()
    assert after[WEB]["shm_segments"] == before[WEB]["shm_segments"] + 1
    assert after[WEB]["message_queues"] == before[WEB]["message_queues"] + 1
    assert after[WEB]["posix_message_queues"] == len(listed) == 1
    for field in ("shm_segments", "message_queues", "semaphore_sets", "posix_message_queues"):
        assert after[OTHER][field] == before[OTHER][field]


def test_dot_names_every_container_and_namespace_and_renders(
    pods: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    result = nsinspect("pod", WEB, "-o", "dot")
    assert result.returncode == 0, result.stderr
    source = tmp_path / "pod.dot"
    source.write_text(result.stdout)
    rendered = subprocess.run(["dot", "-Tsvg", str(source)], capture_output=True, check=False)
    assert rendered.returncode == 0, rendered.stderr
    pids = [infra_pid(pods[WEB])] + [
        container_pid(WEB, c) for c in ("my-nginx-container", "ubuntu-sidecar-container")
    ]
    for name in ("my-nginx-container", "ubuntu-sidecar-container", "sandbox"):
        assert f'"{name}' in result.stdout or f"container:{name}" in result.stdout
    for pid in pids:
        for ns_type in ("net", "ipc", "uts", "pid", "mnt", "user", "cgroup"):
            assert f'"ns:{ns_type}:{readlink_inode(pid, ns_type)}"' in result.stdout
    peer = interface(report(WEB), "eth0")["peer"]
    assert f'"if:node:{peer["name"]}"' in result.stdout
    assert f'"if:node:{peer["master"]["name"]}"' in result.stdout

    # What the picture shows, as text: every container, and every namespace inode.
    shown = svg_text(rendered.stdout.decode())
    for name in ("my-nginx-container", "ubuntu-sidecar-container"):
        assert name in shown
    for pid in pids:
        for ns_type in ("net", "ipc", "uts", "pid", "mnt"):
            assert str(readlink_inode(pid, ns_type)) in shown

    svg = nsinspect("pod", WEB, "-o", "svg")
    assert svg.returncode == 0, svg.stderr
    assert svg.stdout.lstrip().startswith("<?xml")
    assert "my-nginx-container" in svg_text(svg.stdout)


def test_svg_without_graphviz_says_so(pods: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    entry_point = subprocess.run(
        ["which", "nsinspect"], capture_output=True, text=True, check=True
    ).stdout.strip()
    result = subprocess.run(
        [entry_point, "pod", WEB, "-o", "svg"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 1
    assert "Graphviz" in result.stderr and "apt-get install graphviz" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_without_capabilities_the_report_degrades(pods: dict[str, dict[str, Any]]) -> None:
    full = report(WEB)
    bare = report(WEB, prefix=NO_CAPS)
    network = bare["network"]
    assert network["source"] == "procfs"
    assert "CAP_SYS_ADMIN" in network["unavailable"]["mac"]
    # /proc/<pid>/net needs no privilege: the addresses and the listener are still there.
    assert interface(bare, "eth0")["addresses"] == interface(full, "eth0")["addresses"]
    assert interface(bare, "eth0")["mac"] is None
    [entry] = [e for e in network["listening"] if e["port"] == 80]
    assert entry["owner"] == "unknown" and "CAP_SYS_PTRACE" in entry["reason"]
    assert bare["uts"]["hostname"] is None
    assert "CAP_SYS_ADMIN" in bare["uts"]["unavailable"]["hostname"]
    assert bare["ipc"]["shm_segments"] is None and bare["ipc"]["unavailable"]["shm_segments"]

    table = nsinspect("pod", WEB, prefix=NO_CAPS)
    assert table.returncode == 0 and "Traceback" not in table.stderr
    assert "unavailable:" in table.stdout and "CAP_SYS_ADMIN" in table.stdout
    assert "owner unknown" in table.stdout


def test_with_ptrace_but_no_sys_admin_owners_and_peer_are_still_found(
    pods: dict[str, dict[str, Any]],
) -> None:
    full = report(WEB)
    partial = report(WEB, prefix=PTRACE_ONLY)
    assert partial["network"]["source"] == "procfs"
    [entry] = [e for e in partial["network"]["listening"] if e["port"] == 80]
    assert entry["container"] == "my-nginx-container"
    # The peer is resolved from the node's side, which needs no entering when nsinspect runs in
    # the node's network namespace, as it does here.
    assert interface(partial, "eth0")["peer"]["name"] == interface(full, "eth0")["peer"]["name"]
    assert partial["uts"]["hostname"] is None


def test_in_a_host_network_pod_the_nodes_own_listeners_are_the_hosts() -> None:
    name = f"nsi5-hostnet-{SUFFIX}"
    with (
        kube_play(pod_yaml(name, {"app": ["sleep", "100000"]}, hostNetwork=True)),
        socket.socket() as own,
    ):
        own.bind(("127.0.0.1", 0))
        own.listen()
        port = own.getsockname()[1]
        document = report(name)
    network = document["network"]
    assert network["host_network"] is True
    assert network["ns_inode"] == readlink_inode(os.getpid(), "net")
    [entry] = [e for e in network["listening"] if e["port"] == port]
    # This test process listens on the node's network: the node's own, no pod's.
    assert (entry["owner"], entry["pid"], entry["container"]) == ("host", os.getpid(), None)
    assert all(i["peer"] is None for i in network["interfaces"])
