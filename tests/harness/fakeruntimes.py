"""Kubernetes runtimes' on-disk state, faked under a host root: containerd, CRI-O, cri-dockerd.

For what this machine cannot run: CRI-O (with and without an infra process), cri-dockerd, and
kubelet's systemd cgroup driver. The shapes follow what each runtime writes (see the resolvers'
docstrings); the cgroup helpers give `/proc/<pid>/cgroup` lines for both cgroup versions.
"""

from __future__ import annotations

import json
from pathlib import Path

OCI_TYPES = {"net": "network", "ipc": "ipc", "uts": "uts", "pid": "pid", "mnt": "mount"}
# A pod's own namespaces as an OCI spec asks for them: created, not joined.
OWN = {"net": "", "ipc": "", "uts": "", "pid": "", "mnt": ""}
V1_CONTROLLERS = ("cpu,cpuacct", "memory", "pids", "name=systemd")


def oci_config(annotations: dict[str, str], namespaces: dict[str, str]) -> str:
    """A config.json; `namespaces` maps nsinspect types to a path ("" creates one)."""
    return json.dumps(
        {
            "annotations": annotations,
            "hostname": "",
            "linux": {
                "namespaces": [
                    {"type": OCI_TYPES[t], **({"path": p} if p else {})}
                    for t, p in namespaces.items()
                ]
            },
        }
    )


def cgroup_lines(path: str, version: int) -> list[str]:
    """`/proc/<pid>/cgroup`: v2 has one unified line; a v1 (hybrid) host one per hierarchy
    and an unused unified one (`0::/`)."""
    if version == 2:
        return [f"0::{path}"]
    return [f"{n + 1}:{c}:{path}" for n, c in enumerate(V1_CONTROLLERS)] + ["0::/"]


def cgroupfs_path(uid: str, container: str, qos: str = "besteffort", prefix: str = "") -> str:
    parent = f"/kubepods/{qos}" if qos else "/kubepods"
    return f"{parent}/pod{uid}/{prefix}{container}"


def systemd_path(uid: str, container: str, qos: str = "besteffort", prefix: str = "crio") -> str:
    slice_uid = uid.replace("-", "_")
    if not qos:
        return f"/kubepods.slice/kubepods-pod{slice_uid}.slice/{prefix}-{container}.scope"
    return (
        f"/kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-pod{slice_uid}.slice/"
        f"{prefix}-{container}.scope"
    )


def write_bundle(directory: Path, config: str, pid_file: str, pid: int | None) -> Path:
    """An OCI bundle's config.json and, where the runtime records one, its init pid file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(config)
    if pid is not None:
        (directory / pid_file).write_text(str(pid))
    return directory


class FakeContainerd:
    def __init__(self, host_root: Path, state: str = "run/containerd") -> None:
        self.tasks = host_root / state / "io.containerd.runtime.v2.task"
        self.tasks.mkdir(parents=True, exist_ok=True)

    def add(
        self,
        container_id: str,
        annotations: dict[str, str],
        namespaces: dict[str, str],
        *,
        pid: int | None = None,
        raw_config: str | None = None,
        namespace: str = "k8s.io",
    ) -> Path:
        config = raw_config or oci_config(annotations, namespaces)
        return write_bundle(self.tasks / namespace / container_id, config, "init.pid", pid)


def containerd_annotations(
    kind: str, sandbox_id: str, pod: str, uid: str, *, name: str = "", namespace: str = "default"
) -> dict[str, str]:
    annotations = {
        "io.kubernetes.cri.container-type": kind,
        "io.kubernetes.cri.sandbox-id": sandbox_id,
        "io.kubernetes.cri.sandbox-name": pod,
        "io.kubernetes.cri.sandbox-namespace": namespace,
        "io.kubernetes.cri.sandbox-uid": uid,
    }
    if name:
        annotations["io.kubernetes.cri.container-name"] = name
    return annotations


class FakeCrio:
    """containers/storage as CRI-O leaves it; `run/crio` marks CRI-O as present."""

    def __init__(self, host_root: Path) -> None:
        self.run = host_root / "run/containers/storage/overlay-containers"
        self.run.mkdir(parents=True, exist_ok=True)
        (host_root / "run/crio").mkdir(parents=True, exist_ok=True)
        (host_root / "run/crio/version").write_text('"1.28.0"')  # CRI-O writes it at start

    def add(
        self,
        container_id: str,
        annotations: dict[str, str],
        namespaces: dict[str, str],
        *,
        pid: int | None = None,
        raw_config: str | None = None,
    ) -> Path:
        config = raw_config or oci_config(annotations, namespaces)
        return write_bundle(self.run / container_id / "userdata", config, "pidfile", pid)


def crio_annotations(
    kind: str, sandbox_id: str, pod: str, uid: str, *, name: str = "", namespace: str = "default"
) -> dict[str, str]:
    """As CRI-O writes them: some identity only inside the Labels JSON, names kubelet-style."""
    labels = {
        "io.kubernetes.pod.name": pod,
        "io.kubernetes.pod.namespace": namespace,
        "io.kubernetes.pod.uid": uid,
        "io.kubernetes.container.name": name or "POD",
    }
    annotations = {
        "io.container.manager": "cri-o",
        "io.kubernetes.cri-o.ContainerType": kind,
        "io.kubernetes.cri-o.SandboxID": sandbox_id,
        "io.kubernetes.cri-o.Labels": json.dumps(labels),
        "io.kubernetes.cri-o.Name": f"k8s_{name or 'POD'}_{pod}_{namespace}_{uid}_0",
        "io.kubernetes.pod.namespace": namespace,
    }
    if kind == "sandbox":
        annotations["io.kubernetes.cri-o.KubeName"] = pod
        annotations["io.kubernetes.cri-o.Namespace"] = namespace
    return annotations


class FakeDocker:
    def __init__(self, host_root: Path) -> None:
        self.containers = host_root / "var/lib/docker/containers"
        self.containers.mkdir(parents=True, exist_ok=True)

    def add(
        self,
        container_id: str,
        name: str,
        labels: dict[str, str],
        *,
        pid: int,
        host_config: dict[str, str],
        raw_config: str | None = None,
    ) -> Path:
        directory = self.containers / container_id
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "ID": container_id,
            "Name": f"/{name}",
            "State": {"Running": True, "Pid": pid},
            "Config": {"Labels": labels},
        }
        (directory / "config.v2.json").write_text(raw_config or json.dumps(config))
        (directory / "hostconfig.json").write_text(json.dumps(host_config))
        return directory
