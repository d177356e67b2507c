"""containerd, CRI-O and cri-dockerd pods from fake node state, through the whole scan chain.

What this machine cannot run (CRI-O with and without an infra process, cri-dockerd, the systemd
cgroup driver, cgroup v2-only hosts, relative cgroup paths) and what should never happen but does
(a malformed config.json, a missing init.pid, a stale bundle whose pid is gone).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.fakepodman import FakePodman
from harness.fakeproc import FakeProc, nsfs_mount_line
from harness.fakeruntimes import (
    OWN,
    FakeContainerd,
    FakeCrio,
    FakeDocker,
    cgroup_lines,
    cgroupfs_path,
    containerd_annotations,
    crio_annotations,
    systemd_path,
)
from nsinspect.agent.model import Pod, SandboxProcess, ScanError, Snapshot, Verdict
from nsinspect.agent.runtimes.cgroups import CgroupMatch
from nsinspect.agent.runtimes.cridockerd import CriDockerdResolver
from nsinspect.agent.runtimes.crio import CrioResolver
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

UID = "0dce96c8-10db-4274-82a3-05b59e8d9b10"
SANDBOX, NGINX, SIDECAR = "a1" * 32, "a2" * 32, "a3" * 32
NET, IPC, UTS = 4026532177, 4026532251, 4026532250
POD_NS = {"net": NET, "ipc": IPC, "uts": UTS}


class Node:
    """A fake node: a proc root, and a host root with runtime state."""

    def __init__(self, tmp_path: Path) -> None:
        self.proc = FakeProc(tmp_path / "proc")
        self.host_root = tmp_path / "host"
        self.host_root.mkdir()
        self.proc.add(1, "init", ppid=0, start_time=1)

    def snapshot(self) -> Snapshot:
        config = ScanConfig(
            proc_root=str(self.proc.root), host_root=str(self.host_root), cri_sockets=()
        )
        return SnapshotBuilder(config).build()

    def process(self, pid: int, comm: str, cgroup: list[str], **namespaces: int) -> None:
        own = {"pid": 4026533000 + pid, "mnt": 4026534000 + pid}
        self.proc.add(pid, comm, start_time=pid, namespaces=own | namespaces, cgroup=cgroup)


def only_pod(snapshot: Snapshot, uid: str = UID) -> Pod:
    found = [pod for pod in snapshot.pods if pod.uid == uid]
    assert len(found) == 1, [(p.name, p.uid) for p in snapshot.pods]
    return found[0]


def verdicts(pod: Pod) -> dict[str, dict[str, Verdict]]:
    return {c.name: {t: v.verdict for t, v in c.namespaces.items()} for c in pod.containers}


def containerd_seed(node: Node, cgroup: str = "cgroupfs", version: int = 1) -> FakeContainerd:
    """The seed pod as containerd runs it: pause plus nginx and a sidecar."""
    containerd = FakeContainerd(node.host_root)
    joined = {t: f"/proc/400/ns/{t}" for t in ("net", "ipc", "uts")}
    containerd.add(
        SANDBOX,
        containerd_annotations("sandbox", SANDBOX, "my-nginx-pod", UID),
        OWN | {"net": "/var/run/netns/cni-1"},
        pid=400,
    )
    for cid, name, pid in ((NGINX, "my-nginx-container", 410), (SIDECAR, "sidecar", 420)):
        containerd.add(
            cid,
            containerd_annotations("container", SANDBOX, "my-nginx-pod", UID, name=name),
            {"pid": "", "mnt": ""} | joined,
            pid=pid,
        )

    def path(cid: str) -> str:
        if cgroup == "cgroupfs":
            return cgroupfs_path(UID, cid)
        return systemd_path(UID, cid, prefix="cri-containerd")

    node.process(400, "pause", cgroup_lines(path(SANDBOX), version), **POD_NS)
    node.process(410, "httpd", cgroup_lines(path(NGINX), version), **POD_NS)
    node.process(420, "tail", cgroup_lines(path(SIDECAR), version), **POD_NS)
    return containerd


@pytest.mark.parametrize(("driver", "version"), [("cgroupfs", 1), ("systemd", 1), ("systemd", 2)])
def test_containerd_pod_from_bundles(tmp_path: Path, driver: str, version: int) -> None:
    node = Node(tmp_path)
    containerd_seed(node, driver, version)
    snapshot = node.snapshot()
    pod = only_pod(snapshot)
    assert (pod.namespace, pod.name, pod.runtime, pod.evidence) == (
        "default",
        "my-nginx-pod",
        "containerd",
        "oci-config",
    )
    assert (pod.sandbox.id, pod.sandbox.pid, pod.sandbox.process) == (
        SANDBOX,
        400,
        SandboxProcess.PRESENT,
    )
    assert [(c.name, c.identity.id, c.pid) for c in pod.containers] == [
        ("my-nginx-container", NGINX, 410),
        ("sidecar", SIDECAR, 420),
    ]
    assert dict(pod.requested) == {"net": "POD", "ipc": "POD", "pid": "CONTAINER"}
    for container in verdicts(pod).values():
        assert (container["net"], container["ipc"], container["uts"]) == (Verdict.POD,) * 3
        assert (container["pid"], container["mnt"]) == (Verdict.PRIVATE, Verdict.PRIVATE)
    assert snapshot.runtimes_read["containerd"] is True


def test_a_relative_cgroup_path_still_finds_the_pod(tmp_path: Path) -> None:
    """As seen from inside a cgroup namespace rooted in another pod's cgroup."""
    node = Node(tmp_path)
    containerd_seed(node)
    for pid, cid in ((400, SANDBOX), (410, NGINX), (420, SIDECAR)):
        node.process(pid, "x", [f"0::/../../pod{UID}/{cid}"], **POD_NS)
    pod = only_pod(node.snapshot())
    assert (pod.name, pod.sandbox.pid, len(pod.containers)) == ("my-nginx-pod", 400, 2)


def test_host_network_app_joined_by_path_asked_for_the_node(tmp_path: Path) -> None:
    """containerd joins a hostNetwork pod's containers to the sandbox's (the node's) netns."""
    node = Node(tmp_path)
    containerd = FakeContainerd(node.host_root)
    containerd.add(
        SANDBOX,
        containerd_annotations("sandbox", SANDBOX, "hostnet", UID),
        {"ipc": "", "uts": "", "pid": "", "mnt": ""},
        pid=400,
    )
    joined = {"net": "/proc/400/ns/net", "ipc": "/proc/400/ns/ipc", "pid": "", "mnt": ""}
    containerd.add(
        NGINX, containerd_annotations("container", SANDBOX, "hostnet", UID, name="app"), joined
    )
    node.process(400, "pause", cgroup_lines(cgroupfs_path(UID, SANDBOX), 2), ipc=IPC, uts=UTS)
    node.process(410, "app", cgroup_lines(cgroupfs_path(UID, NGINX), 2), ipc=IPC, uts=UTS)
    pod = only_pod(node.snapshot())
    assert pod.containers[0].identity.requested == {"net": "NODE", "ipc": "POD", "pid": "CONTAINER"}
    assert dict(pod.requested) == {"net": "NODE", "ipc": "POD", "pid": "CONTAINER"}
    assert verdicts(pod)["app"]["net"] is Verdict.HOST


def test_missing_and_stale_init_pids_fall_back_to_the_live_processes(tmp_path: Path) -> None:
    node = Node(tmp_path)
    containerd = containerd_seed(node)
    (containerd.tasks / "k8s.io" / SANDBOX / "init.pid").unlink()
    (containerd.tasks / "k8s.io" / NGINX / "init.pid").write_text("999999")  # long gone
    pod = only_pod(node.snapshot())
    assert pod.sandbox.pid == 400
    assert {c.name: c.pid for c in pod.containers}["my-nginx-container"] == 410


def test_a_stale_bundle_without_processes_makes_no_pod(tmp_path: Path) -> None:
    node = Node(tmp_path)
    containerd = FakeContainerd(node.host_root)
    containerd.add(
        SANDBOX, containerd_annotations("sandbox", SANDBOX, "gone", UID), OWN, pid=999999
    )
    assert [p for p in node.snapshot().pods if p.uid == UID] == []


def test_a_malformed_config_is_a_scan_error_and_cgroups_take_over(tmp_path: Path) -> None:
    node = Node(tmp_path)
    containerd = containerd_seed(node)
    broken = containerd.tasks / "k8s.io" / NGINX / "config.json"
    broken.write_text('{"annotations": {')
    snapshot = node.snapshot()
    assert any(
        e.stage == "runtime" and e.reason == "malformed config.json" and e.path == str(broken)
        for e in snapshot.errors
    )
    # The container without a readable bundle is still in its pod, known from its cgroup only.
    pod = only_pod(snapshot)
    assert (pod.name, pod.evidence) == ("my-nginx-pod", "oci-config")
    sources = {c.identity.id: (c.name, c.identity.evidence) for c in pod.containers}
    assert sources == {NGINX: (NGINX[:12], "cgroup"), SIDECAR: ("sidecar", "oci-config")}


def runtime_errors(snapshot: Snapshot) -> list[tuple[str, str | None]]:
    return [(e.reason, e.path) for e in snapshot.errors if e.stage == "runtime"]


@pytest.mark.timeout(10)
def test_a_fifo_for_a_config_or_pid_file_is_one_error_and_never_blocks(tmp_path: Path) -> None:
    node = Node(tmp_path)
    containerd = containerd_seed(node)
    bundle = containerd.tasks / "k8s.io" / NGINX
    for name in ("config.json", "init.pid"):
        (bundle / name).unlink()
        os.mkfifo(bundle / name)
    snapshot = node.snapshot()
    assert runtime_errors(snapshot) == [("not a regular file", str(bundle / "config.json"))]
    assert NGINX[:12] in {c.name for c in only_pod(snapshot).containers}


def test_a_sandbox_id_that_is_a_path_is_never_read(tmp_path: Path) -> None:
    node = Node(tmp_path)
    containerd = containerd_seed(node)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.json").write_text("{")
    for sandbox_id in (str(elsewhere), "../../../../elsewhere", "*"):
        annotations = containerd_annotations("container", sandbox_id, "my-nginx-pod", UID)
        containerd.add(NGINX, annotations, OWN, pid=410)
        assert runtime_errors(node.snapshot()) == []


def test_a_config_with_values_of_the_wrong_type_is_one_error(tmp_path: Path) -> None:
    node = Node(tmp_path)
    containerd = containerd_seed(node)
    config = containerd.tasks / "k8s.io" / NGINX / "config.json"
    for wrong in (
        '{"linux": {"namespaces": [{"type": ["network"]}]}}',
        # Python's json would pass the lone surrogate on, to fail the metrics' encoding.
        '{"annotations": {"io.kubernetes.cri.sandbox-name": "\\ud800"}}',
        '{"annotations": [], "linux": "x"}',
        "[" * 5000,
    ):
        config.write_text(wrong)
        assert runtime_errors(node.snapshot()) == [("malformed config.json", str(config))]


def test_a_task_the_cri_plugin_did_not_create_is_not_a_pod(tmp_path: Path) -> None:
    node = Node(tmp_path)
    containerd = FakeContainerd(node.host_root)
    containerd.add(NGINX, {}, OWN, pid=410, namespace="default")  # `ctr run`
    node.process(410, "sh", cgroup_lines(f"/default/{NGINX}", 2), **POD_NS)
    assert not [p for p in node.snapshot().pods if p.runtime == "containerd"]


def crio_pod(node: Node, *, infra: bool) -> FakeCrio:
    """A CRI-O pod; without an infra process its namespaces are pinned by pinns."""
    crio = FakeCrio(node.host_root)
    pins = {"net": "/var/run/netns/p1", "ipc": "/var/run/ipcns/p1", "uts": "/var/run/utsns/p1"}
    sandbox = crio_annotations("sandbox", SANDBOX, "web", UID)
    sandbox["io.kubernetes.cri-o.NamespaceOptions"] = json.dumps({"pid": 1})
    crio.add(SANDBOX, sandbox, pins | {"pid": "", "mnt": ""}, pid=400 if infra else None)
    crio.add(
        NGINX,
        crio_annotations("container", SANDBOX, "web", UID, name="nginx"),
        pins | {"pid": "", "mnt": ""},
        pid=410,
    )
    node.proc.set_mountinfo(
        1,
        [
            nsfs_mount_line(40, "net", NET, "/run/netns/p1"),
            nsfs_mount_line(41, "ipc", IPC, "/run/ipcns/p1"),
            nsfs_mount_line(42, "uts", UTS, "/run/utsns/p1"),
            nsfs_mount_line(43, "net", 4026539999, "/run/netns/leaked"),
        ],
    )
    if infra:
        node.process(400, "pause", cgroup_lines(systemd_path(UID, SANDBOX), 2), **POD_NS)
    node.process(410, "nginx", cgroup_lines(systemd_path(UID, NGINX), 2), **POD_NS)
    node.process(411, "conmon", cgroup_lines(systemd_path(UID, NGINX, prefix="crio-conmon"), 2))
    return crio


@pytest.mark.parametrize("infra", [True, False], ids=["infra process", "pinned, no infra"])
def test_crio_pod(tmp_path: Path, infra: bool) -> None:
    node = Node(tmp_path)
    crio_pod(node, infra=infra)
    snapshot = node.snapshot()
    pod = only_pod(snapshot)
    assert (pod.namespace, pod.name, pod.runtime, pod.evidence) == (
        "default",
        "web",
        "cri-o",
        "oci-config",
    )
    assert pod.sandbox.id == SANDBOX
    assert pod.sandbox.namespaces["net"] == NET
    assert [(c.name, c.pid) for c in pod.containers] == [("nginx", 410)]
    nginx = verdicts(pod)["nginx"]
    assert (nginx["net"], nginx["ipc"], nginx["uts"]) == (Verdict.POD,) * 3
    assert dict(pod.requested) == {"net": "POD", "ipc": "POD", "pid": "CONTAINER"}
    if infra:
        assert (pod.sandbox.process, pod.sandbox.pid) == (SandboxProcess.PRESENT, 400)
    else:
        assert (pod.sandbox.process, pod.sandbox.pid) == (SandboxProcess.PINNED, None)
        assert dict(pod.sandbox.namespaces) == POD_NS
        assert dict(pod.sandbox.pins) == {
            "net": "/run/netns/p1",
            "ipc": "/run/ipcns/p1",
            "uts": "/run/utsns/p1",
        }
    # The pod's pins are in use; the other one leaked.
    assert [(o.ns_type, o.inode, o.path) for o in snapshot.orphans] == [
        ("net", 4026539999, "/run/netns/leaked")
    ]


def test_a_pinned_crio_pod_whose_sandbox_bundle_is_gone(tmp_path: Path) -> None:
    """The app containers' specs name the pinned paths: enough to call the sandbox pinned."""
    node = Node(tmp_path)
    crio = crio_pod(node, infra=False)
    (crio.run / SANDBOX / "userdata" / "config.json").unlink()
    pod = only_pod(node.snapshot())
    assert pod.sandbox.process is SandboxProcess.PINNED
    assert dict(pod.sandbox.namespaces) == POD_NS


def test_podman_containers_in_shared_storage_are_never_crio_s(tmp_path: Path) -> None:
    """CRI-O and podman share containers/storage and the cri-o annotations; the manager tells."""
    node = Node(tmp_path)
    FakeCrio(node.host_root)
    podman = FakePodman(node.host_root)
    podman.add_container(SANDBOX, "c0c0c0c0c0c0-infra")
    podman.add_container(NGINX, "podpod-app", sandbox_id=SANDBOX)
    resolver = CrioResolver(str(node.host_root))
    errors: list[ScanError] = []
    assert resolver.available()
    # Even with no runtime in the cgroup path (cgroupfs), a libpod bundle is not CRI-O's.
    assert resolver.identify(CgroupMatch(NGINX, pod_uid=UID, kubelet_layout=True), errors) is None
    assert resolver.identify(CgroupMatch(SANDBOX), errors) is None
    assert errors == []


def test_crio_identity_from_labels_and_names_alone(tmp_path: Path) -> None:
    crio = FakeCrio(tmp_path)
    annotations = crio_annotations("container", SANDBOX, "web", UID, name="nginx")
    del annotations["io.kubernetes.pod.namespace"]
    annotations["io.kubernetes.cri-o.Labels"] = "not json"
    crio.add(NGINX, annotations, OWN, pid=410)
    identity = CrioResolver(str(tmp_path)).identify(CgroupMatch(NGINX, "cri-o"), [])
    assert identity is not None
    assert (identity.name, identity.pod_name, identity.pod_namespace, identity.pod_uid) == (
        "nginx",
        "web",
        "default",
        UID,
    )
    assert (identity.init_pid, identity.sandbox_id) == (410, SANDBOX)


def docker_pod(node: Node) -> FakeDocker:
    docker = FakeDocker(node.host_root)
    pod_labels = {
        "io.kubernetes.pod.name": "web",
        "io.kubernetes.pod.namespace": "shop",
        "io.kubernetes.pod.uid": UID,
    }
    docker.add(
        SANDBOX,
        f"k8s_POD_web_shop_{UID}_0",
        pod_labels | {"io.kubernetes.docker.type": "podsandbox"},
        pid=400,
        host_config={"NetworkMode": "default", "IpcMode": "shareable", "PidMode": ""},
    )
    docker.add(
        NGINX,
        f"k8s_nginx_web_shop_{UID}_0",
        pod_labels
        | {
            "io.kubernetes.docker.type": "container",
            "io.kubernetes.container.name": "nginx",
            "io.kubernetes.sandbox.id": SANDBOX,
        },
        pid=410,
        host_config={
            "NetworkMode": f"container:{SANDBOX}",
            "IpcMode": f"container:{SANDBOX}",
            "PidMode": "",
        },
    )
    for pid, cid in ((400, SANDBOX), (410, NGINX)):
        path = systemd_path(UID, cid, qos="burstable", prefix="docker")
        node.process(pid, "pause" if cid == SANDBOX else "nginx", cgroup_lines(path, 1), **POD_NS)
    return docker


def test_cri_dockerd_pod(tmp_path: Path) -> None:
    node = Node(tmp_path)
    docker_pod(node)
    snapshot = node.snapshot()
    pod = only_pod(snapshot)
    assert (pod.namespace, pod.name, pod.runtime, pod.evidence) == (
        "shop",
        "web",
        "docker",
        "oci-config",
    )
    assert (pod.sandbox.id, pod.sandbox.pid) == (SANDBOX, 400)
    assert [(c.name, c.pid) for c in pod.containers] == [("nginx", 410)]
    assert dict(pod.requested) == {"net": "POD", "ipc": "POD", "pid": "CONTAINER"}
    assert verdicts(pod)["nginx"]["net"] is Verdict.POD
    assert snapshot.runtimes_read["docker"] is True


def test_cri_dockerd_names_alone_and_a_malformed_record(tmp_path: Path) -> None:
    node = Node(tmp_path)
    docker = docker_pod(node)
    config = docker.containers / NGINX / "config.v2.json"
    record = json.loads(config.read_text())
    record["Config"]["Labels"] = {"io.kubernetes.docker.type": "container"}
    config.write_text(json.dumps(record))
    identity = CriDockerdResolver(str(node.host_root)).identify(CgroupMatch(NGINX, "docker"), [])
    assert identity is not None
    assert (identity.name, identity.pod_name, identity.pod_namespace, identity.pod_uid) == (
        "nginx",
        "web",
        "shop",
        UID,
    )
    config.write_text("{")
    errors: list[ScanError] = []
    assert CriDockerdResolver(str(node.host_root)).identify(CgroupMatch(NGINX), errors) is None
    assert [(e.stage, e.reason, e.path) for e in errors] == [
        ("runtime", "malformed config.v2.json", str(config))
    ]
