"""Pods that kubelet runs through cri-dockerd (formerly dockershim), from docker's own records.

Docker keeps each container in `<data root>/containers/<id>/`: `config.v2.json` with the name,
labels and state, and `hostconfig.json` with the namespace modes. cri-dockerd labels the sandbox
`io.kubernetes.docker.type=podsandbox` and the app containers `container`, adds the pod's
`io.kubernetes.pod.*` labels, `io.kubernetes.container.name` and `io.kubernetes.sandbox.id`, and
names them `k8s_POD_<pod>_<ns>_<uid>_<n>` / `k8s_<container>_<pod>_<ns>_<uid>_<n>`. The moby
bundles under docker's containerd state carry none of the pod identity, so they are not read.
"""

from __future__ import annotations

import os

import msgspec

from ..model import (
    ContainerIdentity,
    Evidence,
    NamespaceMode,
    Role,
    Runtime,
    ScanError,
    is_container_id,
)
from .cgroups import CgroupMatch
from .kubelet_names import parse_kubelet_name, pod_labels
from .resolver import under_root
from .state_json import read_json_file

DEFAULT_DATA_ROOT = "/var/lib/docker"
DOCKER_TYPE = "io.kubernetes.docker.type"
SANDBOX_ID = "io.kubernetes.sandbox.id"
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
# The same pod spec as an OCI config holds (env, labels), with docker's own state beside it.
DOCKER_RECORD_CAP = 8 << 20


class DockerConfig(msgspec.Struct, rename="pascal"):
    labels: dict[str, str] | None = None


class DockerState(msgspec.Struct, rename="pascal"):
    pid: int = 0


class DockerRecord(msgspec.Struct, rename="pascal"):
    """The part of `config.v2.json` nsinspect reads."""

    name: str = ""
    config: DockerConfig | None = None
    state: DockerState | None = None


class DockerHostConfig(msgspec.Struct, rename="pascal"):
    """The namespace modes of `hostconfig.json`; a mode left out says nothing."""

    network_mode: str | None = None
    ipc_mode: str | None = None
    pid_mode: str | None = None


def _mode(mode: str, role: Role) -> NamespaceMode:
    """docker's `host`, `container:<id>`, `private`/`shareable`/"" in CRI's words."""
    if mode == "host":
        return NamespaceMode.NODE
    if mode.startswith("container:"):
        return NamespaceMode.POD
    # The sandbox's own namespace is the pod's; an app container's own is its own.
    return NamespaceMode.POD if role is Role.SANDBOX else NamespaceMode.CONTAINER


def docker_identity(
    container_id: str, record: DockerRecord, host_config: DockerHostConfig | None
) -> ContainerIdentity | None:
    """Who a container is, from docker's records; None when cri-dockerd did not create it."""
    labels = (record.config.labels if record.config is not None else None) or {}
    if labels.get(DOCKER_TYPE) not in ("podsandbox", "container"):
        return None
    role = Role.SANDBOX if labels[DOCKER_TYPE] == "podsandbox" else Role.APP
    named = parse_kubelet_name(record.name)
    pid = record.state.pid if record.state is not None else 0
    modes = host_config or DockerHostConfig()
    requested = {
        ns_type: _mode(mode, role)
        for ns_type, mode in (
            ("net", modes.network_mode),
            ("ipc", modes.ipc_mode),
            ("pid", modes.pid_mode),
        )
        if mode is not None
    }
    if role is Role.SANDBOX and requested.get("pid") != "NODE":
        requested.pop("pid", None)  # the sandbox alone cannot tell POD from CONTAINER
    return ContainerIdentity(
        runtime=Runtime.DOCKER,
        id=container_id,
        role=role,
        sandbox_id=labels.get(SANDBOX_ID, "") if role is Role.APP else container_id,
        name=""
        if role is Role.SANDBOX
        else labels.get(CONTAINER_NAME) or (named.container if named else ""),
        pod_name=labels.get(POD_NAME) or (named.pod if named else ""),
        pod_namespace=labels.get(POD_NAMESPACE) or (named.namespace if named else ""),
        pod_uid=labels.get(POD_UID) or (named.uid if named else ""),
        evidence=Evidence.OCI_CONFIG,
        init_pid=pid if pid > 0 else None,
        requested=requested,
        labels=pod_labels(labels) if role is Role.SANDBOX else None,
    )


class CriDockerdResolver:
    name = "docker"

    def __init__(self, host_root: str = "/", data_root: str = DEFAULT_DATA_ROOT) -> None:
        self.containers = os.path.join(under_root(host_root, data_root), "containers")

    def available(self) -> bool:
        return os.path.isdir(self.containers)

    def refresh(self, errors: list[ScanError]) -> bool:
        """Nothing is indexed: each record is read when its container is first seen."""
        return True

    def identify(self, match: CgroupMatch, errors: list[ScanError]) -> ContainerIdentity | None:
        if match.runtime_hint not in (Runtime.DOCKER, None):
            return None
        if not is_container_id(match.container_id):
            return None  # a sandbox id from a label: never part of a path
        directory = os.path.join(self.containers, match.container_id)
        record = read_json_file(
            os.path.join(directory, "config.v2.json"), DOCKER_RECORD_CAP, DockerRecord, errors
        )
        if record is None:
            return None
        host_config = read_json_file(
            os.path.join(directory, "hostconfig.json"), DOCKER_RECORD_CAP, DockerHostConfig, errors
        )
        return docker_identity(match.container_id, record, host_config)
