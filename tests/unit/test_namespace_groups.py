"""Which namespace groups are pods when no runtime knows their processes (fake proc trees).

A pod: a holder, and processes that joined its net, ipc and uts from outside its process tree
with a mount namespace of their own. Not a pod: a tree that unshared its own namespaces (even
when a child also unshared its mount namespace), a lone process, a net namespace `ip netns exec`
gives to unrelated commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.fakenode import NGINX, POD_A, POD_A_NS, Node
from harness.fakepodman import podman_cgroup
from nsinspect.agent.model import Process, Runtime
from nsinspect.agent.pairing.namespace_groups import tree_tops
from nsinspect.agent.report import GroupingReport, PodList
from nsinspect.agent.report.build import finding_list, pod_list

TRIPLE = {"net": 4026533000, "ipc": 4026533001, "uts": 4026533002}
OWN_MNT = {"mnt": 4026533010}


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


def process(pid: int, ppid: int) -> Process:
    return Process(pid, ppid, "sh", 1, (), {})


def test_tree_tops_follow_parents_within_the_group_only() -> None:
    members = [process(10, 1), process(11, 10), process(12, 11), process(20, 5), process(21, 20)]
    assert tree_tops(members) == {10: 10, 11: 10, 12: 10, 20: 20, 21: 20}


def test_tree_tops_end_on_a_cycle_of_reused_pids() -> None:
    tops = tree_tops([process(30, 31), process(31, 30), process(32, 31)])
    assert set(tops) == {30, 31, 32} and len(set(tops.values())) == 1


def test_a_tree_that_unshared_its_own_namespaces_is_not_a_pod(node: Node) -> None:
    # unshare --net --ipc --uts --fork sh -c 'sleep & unshare --mount sleep & wait'
    node.proc.add(700, "unshare", ppid=650, start_time=50, namespaces=TRIPLE)
    node.proc.add(701, "sh", ppid=700, start_time=50, namespaces=TRIPLE)
    node.proc.add(702, "sleep", ppid=701, start_time=51, namespaces=TRIPLE)
    node.proc.add(703, "sleep", ppid=701, start_time=51, namespaces=TRIPLE | OWN_MNT)
    assert node.snapshot().pods == ()


def test_a_pause_named_process_inside_such_a_tree_does_not_make_it_a_pod(node: Node) -> None:
    node.proc.add(710, "sh", ppid=650, start_time=50, namespaces=TRIPLE)
    node.proc.add(711, "pause", ppid=710, start_time=52, namespaces=TRIPLE)
    node.proc.add(712, "app", ppid=710, start_time=53, namespaces=TRIPLE | OWN_MNT)
    assert node.snapshot().pods == ()


def test_a_lone_process_is_not_a_pod(node: Node) -> None:
    node.proc.add(720, "chrome", ppid=650, start_time=50, namespaces=TRIPLE | OWN_MNT)
    assert node.snapshot().pods == ()


def test_joiners_in_the_holders_mount_namespace_are_not_containers(node: Node) -> None:
    # `nsenter -t HOLDER -n -i -u sh`: joined from outside, but with the holder's root.
    node.proc.add(730, "pause", ppid=650, start_time=50, namespaces=TRIPLE)
    node.proc.add(731, "sh", ppid=651, start_time=55, namespaces=TRIPLE)
    assert node.snapshot().pods == ()


def test_ip_netns_exec_commands_sharing_only_a_net_namespace_are_not_a_pod(node: Node) -> None:
    # Each `ip netns exec NAME cmd` gets a mount namespace of its own and the node's ipc/uts.
    net_only = {"net": 4026533000}
    node.proc.add(740, "sleep", ppid=650, start_time=50, namespaces=net_only | OWN_MNT)
    node.proc.add(741, "sleep", ppid=651, start_time=60, namespaces=net_only | {"mnt": 4026533011})
    assert node.snapshot().pods == ()


def test_processes_that_joined_the_holder_from_outside_form_a_pod(node: Node) -> None:
    # The benchmark's synthetic pod: holder `unshare --net --ipc --uts pause`, and per container
    # `nsenter -t HOLDER -n -i -u -- unshare --mount --pid --fork sleep` (unshare + its sleep).
    node.proc.add(750, "pause", ppid=650, start_time=50, namespaces=TRIPLE)
    node.proc.add(760, "unshare", ppid=650, start_time=55, namespaces=TRIPLE | OWN_MNT)
    node.proc.add(
        761, "sleep", ppid=760, start_time=55,
        namespaces=TRIPLE | OWN_MNT | {"pid": 4026533020},
    )  # fmt: skip
    second = {"mnt": 4026533012}
    node.proc.add(770, "unshare", ppid=650, start_time=56, namespaces=TRIPLE | second)
    node.proc.add(
        771, "sleep", ppid=770, start_time=56, namespaces=TRIPLE | second | {"pid": 4026533021}
    )
    (pod,) = node.snapshot().pods
    assert (pod.runtime, pod.sandbox.pid) == (Runtime.NONE, 750)
    assert sorted((c.pid, c.pids) for c in pod.containers) == [(761, (760, 761)), (771, (770, 771))]
    assert pod.grouping is not None
    assert (pod.grouping.holder_pid, pod.grouping.joined_pids) == (750, (760, 770))
    assert pod.grouping.text == (
        "no runtime knows these processes: holder pid 750 (pause) and 2 processes that joined "
        "its net, ipc and uts from outside its process tree (pid 760, 770)"
    )


def test_a_joiner_with_a_child_of_its_own_mount_namespace_is_a_container(node: Node) -> None:
    # nsenter without --mount, whose child then unshares its root: the child is the container.
    node.proc.add(780, "pause", ppid=650, start_time=50, namespaces=TRIPLE)
    node.proc.add(781, "sh", ppid=651, start_time=55, namespaces=TRIPLE)
    node.proc.add(782, "app", ppid=781, start_time=56, namespaces=TRIPLE | OWN_MNT)
    (pod,) = node.snapshot().pods
    assert [c.pids for c in pod.containers] == [(782,)]
    assert pod.grouping is not None and pod.grouping.joined_pids == (781,)


def test_findings_of_a_runtime_less_pod_are_marked(node: Node) -> None:
    # A container left in the node's pid namespace: HostNamespaceShared, about a runtime-less pod.
    node.proc.add(790, "pause", ppid=650, start_time=50, namespaces=TRIPLE)
    node.proc.add(791, "sleep", ppid=651, start_time=55, namespaces=TRIPLE | OWN_MNT)
    snapshot = node.snapshot()
    assert [p.sandbox.pid for p in snapshot.pods] == [790]
    assert [(f.code, f.runtime_less) for f in snapshot.findings] == [("HostNamespaceShared", True)]


def test_the_evidence_and_the_marker_go_on_the_wire_and_come_back(node: Node) -> None:
    node.proc.add(790, "pause", ppid=650, start_time=50, namespaces=TRIPLE)
    node.proc.add(791, "sleep", ppid=651, start_time=55, namespaces=TRIPLE | OWN_MNT)
    snapshot = node.snapshot()
    document = pod_list(snapshot.pods, snapshot).to_json()
    (item,) = document["items"]
    assert item["pod"]["grouping"] == {
        "holder_pid": 790,
        "holder_comm": "pause",
        "joined_pids": [791],
        "text": "no runtime knows these processes: holder pid 790 (pause) and 1 process that "
        "joined its net, ipc and uts from outside its process tree (pid 791)",
    }
    assert [f["runtime_less"] for f in item["findings"]] == [True]
    parsed = PodList.from_json(json.loads(json.dumps(document)))
    assert parsed.items[0].pod.grouping == GroupingReport(
        holder_pid=790, holder_comm="pause", joined_pids=[791], text=item["pod"]["grouping"]["text"]
    )
    assert parsed.items[0].findings[0].runtime_less is True


def test_findings_of_pods_a_runtime_knows_carry_no_marker(node: Node) -> None:
    node.seed_pod()
    node.proc.add(
        310, "httpd", start_time=20, namespaces=POD_A_NS | {"net": 4026532999},
        cgroup=podman_cgroup(POD_A, NGINX),
    )  # fmt: skip
    snapshot = node.snapshot()
    findings = finding_list(snapshot).to_json()["items"]
    assert findings and all("runtime_less" not in f for f in findings)
    assert all(p.grouping is None for p in snapshot.pods)
