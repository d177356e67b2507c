"""The report's Listening sentences and the pod picture, from PodReport documents alone."""

from __future__ import annotations

import copy
import shutil
import subprocess
from typing import Any

import pytest

from nsinspect.agent.report import PodReport
from nsinspect.cli.details import detail_lines, listening_sentences
from nsinspect.cli.graph import build_dot


def container(name: str, pid: int, net: str = "pod", inode: int = 4026532177) -> dict[str, Any]:
    shared = net in ("pod", "host")
    return {
        "name": name,
        "id": f"{name}-id",
        "pid": pid,
        "pids": [pid],
        "role": "app",
        "namespaces": {
            "net": {"inode": inode, "verdict": net, "shared_with_sandbox": shared},
            "ipc": {"inode": 4026532251, "verdict": "pod", "shared_with_sandbox": True},
            "pid": {"inode": pid, "verdict": "private", "shared_with_sandbox": False},
        },
    }


def listener(address: str, family: str = "ipv4", **owner: Any) -> dict[str, Any]:
    entry = {"protocol": "tcp", "family": family, "address": address, "port": 80, "inode": 1}
    entry |= {"owner": "container", "container": "my-nginx-container", "pod": None}
    return entry | {"pid": 3390, "process": "httpd"} | owner


def typed(document: dict[str, Any]) -> PodReport:
    """The report as the renderers take it: parsed from its JSON, as from a remote agent."""
    return PodReport.from_json(document)


def seed_report() -> dict[str, Any]:
    return {
        "pod": {
            "namespace": "default",
            "name": "my-nginx-pod",
            "uid": "u1",
            "runtime": "containerd",
            "source": "cri",
        },
        "node": "node-1",
        "taken_at": 1.0,
        "sandbox": {
            "id": "f" * 64,
            "pid": 3344,
            "comm": "pause",
            "process": "present",
            "start_time": 1,
            "namespaces": {"net": 4026532177, "ipc": 4026532251, "pid": 4026532250},
            "pins": {},
        },
        "requested": {},
        "intent": None,
        "findings": [],
        "errors": [],
        "host": {"source": "pid1", "pid": 1, "namespaces": {"net": 4026531840}, "note": ""},
        "containers": [
            container("my-nginx-container", 3390),
            container("ubuntu-sidecar-container", 3420),
        ],
        "network": {
            "ns_inode": 4026532177,
            "read_from_pid": 3344,
            "host_network": False,
            "source": "netlink",
            "containers": ["my-nginx-container", "ubuntu-sidecar-container"],
            "containers_outside": [],
            "interfaces": [
                {
                    "index": 2,
                    "name": "eth0",
                    "kind": "veth",
                    "state": "UP",
                    "mtu": 1450,
                    "mac": "aa:bb:cc:dd:ee:ff",
                    "addresses": ["10.244.1.5/24"],
                    "peer": {
                        "index": 7,
                        "netnsid": 0,
                        "name": "veth1a2b",
                        "namespace": "host",
                        "ns_inode": 4026531840,
                        "master": {"name": "cni0", "kind": "bridge"},
                    },
                }
            ],
            "routes": [],
            "listening": [listener("0.0.0.0")],
            "unavailable": {},
        },
        "uts": {"ns_inode": 1, "hostname": "other", "domainname": "(none)", "unavailable": {}}
        | {"matches_pod_name": False},
        "ipc": {
            "ns_inode": 4026532251,
            "containers": [],
            "shm_segments": 1,
            "semaphore_sets": 0,
            "message_queues": 2,
            "posix_message_queues": None,
            "posix_source": None,
            "unavailable": {"posix_message_queues": "no mqueue mount"},
        },
    }


def test_the_seed_sentence() -> None:
    assert listening_sentences(typed(seed_report())) == [
        "0.0.0.0:80/tcp — my-nginx-container (httpd, pid 3390). "
        "Every container of this pod reaches it at localhost:80."
    ]


def test_sentences_for_other_owners_and_addresses() -> None:
    report = seed_report()
    report["containers"].append(container("loner", 4000, net="private", inode=99))
    report["network"]["containers_outside"] = ["loner"]
    report["network"]["listening"] = [
        listener("::", "ipv6"),
        listener("10.244.1.5", owner="other-pod", pod="default/web-2", container=None),
        listener("127.0.0.1", owner="unknown", pid=None, process=None, reason="EACCES"),
    ]
    first, second, third = listening_sentences(typed(report))
    assert first.startswith("[::]:80/tcp — my-nginx-container (httpd, pid 3390).")
    assert first.endswith(
        "my-nginx-container and ubuntu-sidecar-container reach it at localhost:80; loner does "
        "not, in a network namespace of its own."
    )
    assert "another pod, default/web-2 (httpd, pid 3390)" in second
    assert second.endswith("reach it at 10.244.1.5:80, not at localhost.")
    assert third.startswith("127.0.0.1:80/tcp — owner unknown: EACCES.")


def test_sections_show_peer_unavailable_details_and_the_hostname_note() -> None:
    text = "\n".join(detail_lines(typed(seed_report())))
    assert "veth1a2b on the node (ifindex 7), in bridge cni0" in text
    assert "1 shared memory segment, 0 semaphore sets, 2 message queues (SysV)" in text
    assert "? POSIX message queues" in text
    assert "unavailable: posix_message_queues: no mqueue mount" in text
    assert "note: the hostname is not the pod's name (my-nginx-pod)" in text


def test_a_pod_list_item_has_no_detail_sections() -> None:
    report = seed_report()
    for section in ("network", "uts", "ipc"):
        del report[section]
    assert detail_lines(typed(report)) == []


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz (apt-get install graphviz)")
def test_the_picture_parses_and_quotes_what_it_must() -> None:
    report = copy.deepcopy(seed_report())
    report["containers"][0]["name"] = 'odd "name" \\ here'
    source = build_dot(typed(report))
    rendered = subprocess.run(
        ["dot", "-Tsvg"], input=source.encode(), capture_output=True, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    for node in ('"ns:net:4026532177"', '"if:node:veth1a2b"', '"if:node:cni0"', '"sandbox"'):
        assert node in source
    # The shared namespace is one node that both containers and the sandbox point at.
    assert source.count('-> "ns:net:4026532177"') == 3
