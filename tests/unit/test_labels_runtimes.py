"""Pod labels from each runtime's record, less what kubelet and the runtimes add, through to
the report's `pod.labels`."""

from __future__ import annotations

import json
from pathlib import Path

from harness.fakeproc import FakeProc
from harness.fakeruntimes import FakeDocker, cgroup_lines, crio_annotations, systemd_path
from nsinspect.agent.daemon.kube_intent import NodeIntents, intent_from_pod
from nsinspect.agent.report import build
from nsinspect.agent.runtimes.cri_api import runtime_v1_pb2 as cri
from nsinspect.agent.runtimes.cri_identity import VerboseInfo, container_identity, sandbox_identity
from nsinspect.agent.runtimes.cridockerd import DockerConfig, DockerRecord, docker_identity
from nsinspect.agent.runtimes.crio import crio_identity
from nsinspect.agent.runtimes.kubelet_names import pod_labels
from nsinspect.agent.runtimes.oci_bundle import OciBundle
from nsinspect.agent.runtimes.podman_db import pod_from_json
from nsinspect.agent.scanner import ScanConfig, SnapshotBuilder

UID = "5b3a0c1e-0d6f-4f7e-9a51-2f1f0c5e7d10"
SANDBOX, APP = "b1" * 32, "b2" * 32
OWN = {"app": "web", "example.com/team": "shop", "empty": ""}
KUBELET = {
    "io.kubernetes.pod.name": "web",
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.pod.uid": UID,
}


def test_kubelet_s_and_the_runtimes_keys_are_not_the_pod_s() -> None:
    added = KUBELET | {
        "io.kubernetes.container.name": "POD",  # CRI-O's infra
        "io.kubernetes.docker.type": "podsandbox",  # cri-dockerd's
        "annotation.kubernetes.io/config.seen": "2026-12-07",  # cri-dockerd's annotations
    }
    assert pod_labels(OWN | added) == OWN


def test_cri_sandbox_labels_and_none_on_app_containers() -> None:
    sandbox = cri.PodSandbox(
        id=SANDBOX,
        metadata=cri.PodSandboxMetadata(name="web", uid=UID, namespace="shop"),
        labels=OWN | KUBELET,
    )
    identity = sandbox_identity(
        "containerd", sandbox, cri.PodSandboxStatusResponse(), VerboseInfo()
    )
    assert identity.labels == OWN
    app = cri.Container(id=APP, pod_sandbox_id=SANDBOX, labels=KUBELET | {"x": "y"})
    assert container_identity("containerd", app, VerboseInfo(), identity).labels is None


def test_crio_sandbox_labels_from_its_labels_annotation() -> None:
    annotations = crio_annotations("sandbox", SANDBOX, "web", UID, namespace="shop")
    labels = json.loads(annotations["io.kubernetes.cri-o.Labels"])
    annotations["io.kubernetes.cri-o.Labels"] = json.dumps(labels | OWN)
    identity = crio_identity(SANDBOX, OciBundle(annotations=annotations), 400)
    assert identity is not None and identity.labels == OWN
    app = crio_annotations("container", SANDBOX, "web", UID, name="nginx")
    app_identity = crio_identity(APP, OciBundle(annotations=app), 410)
    assert app_identity is not None and app_identity.labels is None


def test_podman_pod_labels_from_its_record() -> None:
    record = {"id": "c" * 64, "name": "web", "hasInfra": True, "labels": OWN}
    pod = pod_from_json(json.dumps(record))
    assert pod is not None and dict(pod.labels) == OWN
    unlabelled = pod_from_json(json.dumps(record | {"labels": None}))
    assert unlabelled is not None and dict(unlabelled.labels) == {}


def docker_node(tmp_path: Path) -> ScanConfig:
    """A node with one cri-dockerd pod whose sandbox is labelled OWN (and kubelet's keys)."""
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "init", ppid=0, start_time=1)
    host_root = tmp_path / "host"
    docker = FakeDocker(host_root)
    sandbox_labels = OWN | KUBELET | {"io.kubernetes.docker.type": "podsandbox"}
    app_labels = KUBELET | {
        "io.kubernetes.docker.type": "container",
        "io.kubernetes.container.name": "nginx",
        "io.kubernetes.sandbox.id": SANDBOX,
    }
    modes = {"NetworkMode": "default", "IpcMode": "shareable", "PidMode": ""}
    docker.add(SANDBOX, f"k8s_POD_web_shop_{UID}_0", sandbox_labels, pid=400, host_config=modes)
    docker.add(APP, f"k8s_nginx_web_shop_{UID}_0", app_labels, pid=410, host_config=modes)
    for pid, container in ((400, SANDBOX), (410, APP)):
        path = systemd_path(UID, container, qos="burstable", prefix="docker")
        lines = cgroup_lines(path, 1)
        proc.add(pid, "c", start_time=pid, namespaces={"net": 4026532000}, cgroup=lines)
    return ScanConfig(proc_root=str(proc.root), host_root=str(host_root), cri_sockets=())


def labels_reported(config: ScanConfig, intents: NodeIntents) -> object:
    snapshot = SnapshotBuilder(config, intents=lambda: intents).build()
    (pod,) = [p for p in snapshot.pods if p.runtime == "docker"]
    return build.pod_report(pod, snapshot).pod.labels


def test_cri_dockerd_pod_labels_reach_the_report(tmp_path: Path) -> None:
    """From docker's record of the sandbox, through pairing, to the PodReport's pod.labels;
    the app container's labels (kubelet's alone) are not the pod's."""
    assert labels_reported(docker_node(tmp_path), {}) == OWN


def test_the_api_s_labels_win_over_the_sandbox_s(tmp_path: Path) -> None:
    """`kubectl label` changes the pod's labels in the API, never the sandbox's copy."""
    current = {"app": "web", "track": "canary"}
    found = intent_from_pod(
        {"metadata": {"uid": UID, "name": "web", "namespace": "shop", "labels": current}}
    )
    assert found is not None
    uid, intent = found
    assert labels_reported(docker_node(tmp_path), {uid: intent}) == current
    # An API object without labels says nothing about them: the sandbox's stay.
    unlabelled = intent_from_pod({"metadata": {"uid": UID, "name": "web", "namespace": "shop"}})
    assert unlabelled is not None and unlabelled[1].labels is None
    assert labels_reported(docker_node(tmp_path / "again"), dict([unlabelled])) == OWN


def test_docker_app_container_holds_no_pod_labels() -> None:
    record = DockerRecord(config=DockerConfig(labels={"io.kubernetes.docker.type": "container"}))
    identity = docker_identity(APP, record, None)
    assert identity is not None and identity.labels is None
