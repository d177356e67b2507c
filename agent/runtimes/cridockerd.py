"""Pods that kubelet runs through cri-dockerd (formerly dockershim), from docker's own records.

Docker keeps each container in `<data root>/containers/<id>/`: `config.v2.json` with the name,
labels and state, and `hostconfig.json` with the namespace modes. cri-dockerd labels the sandbox
`io.kubernetes.docker.type=podsandbox` and the app containers `container`, adds the pod's
`io.kubernetes.pod.*` labels, `io.kubernetes.container.name` and `io.kubernetes.sandbox.id`, and
names them `k8s_POD_<pod>_<ns>_<uid>_<n>` / `k8s_<container>_<pod>_<ns>_<uid>_<n>`. The moby
bundles under docker's containerd state carry none of the pod identity, so they are not read.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..model import (
    ContainerIdentity,
    Evidence,
    NamespaceMode,
    Role,
    Runtime,
    ScanError,
    ScanStage,
    errno_name,
)
from .cgroups import CgroupMatch
from .kubelet_names import parse_kubelet_name
from .resolver import under_root

DEFAULT_DATA_ROOT = "/var/lib/docker"
DOCKER_TYPE = "io.kubernetes.docker.type"
SANDBOX_ID = "io.kubernetes.sandbox.id"
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
# HostConfig mode fields -> the CRI namespace type they set.
MODE_FIELDS = {"NetworkMode": "net", "IpcMode": "ipc", "PidMode": "pid"}


def _mode(value: object, role: Role) -> NamespaceMode:
    """docker's `host`, `container:<id>`, `private`/`shareable`/"" in CRI's words."""
    mode = value if isinstance(value, str) else ""
    if mode == "host":
        return NamespaceMode.NODE
    if mode.startswith("container:"):
        return NamespaceMode.POD
    # The sandbox's own namespace is the pod's; an app container's own is its own.
    return NamespaceMode.POD if role is Role.SANDBOX else NamespaceMode.CONTAINER


def docker_identity(container_id: str, config: Any, host_config: Any) -> ContainerIdentity | None:
    """Who a container is, from docker's records; None when cri-dockerd did not create it."""
    if not isinstance(config, dict):
        return None
    container_config = config.get("Config")
    labels = container_config.get("Labels") if isinstance(container_config, dict) else None
    if not isinstance(labels, dict) or labels.get(DOCKER_TYPE) not in ("podsandbox", "container"):
        return None
    role = Role.SANDBOX if labels[DOCKER_TYPE] == "podsandbox" else Role.APP
    named = parse_kubelet_name(str(config.get("Name", "")))
    state = config.get("State")
    pid = state.get("Pid") if isinstance(state, dict) else None
    modes = host_config if isinstance(host_config, dict) else {}
    requested = {
        ns_type: _mode(modes[field], role)
        for field, ns_type in MODE_FIELDS.items()
        if field in modes
    }
    if role is Role.SANDBOX and requested.get("pid") != "NODE":
        requested.pop("pid", None)  # the sandbox alone cannot tell POD from CONTAINER
    return ContainerIdentity(
        runtime=Runtime.DOCKER,
        id=container_id,
        role=role,
        sandbox_id=str(labels.get(SANDBOX_ID, "")) if role is Role.APP else container_id,
        name=""
        if role is Role.SANDBOX
        else str(labels.get(CONTAINER_NAME) or (named.container if named else "")),
        pod_name=str(labels.get(POD_NAME) or (named.pod if named else "")),
        pod_namespace=str(labels.get(POD_NAMESPACE) or (named.namespace if named else "")),
        pod_uid=str(labels.get(POD_UID) or (named.uid if named else "")),
        evidence=Evidence.OCI_CONFIG,
        init_pid=pid if isinstance(pid, int) and pid > 0 else None,
        requested=requested,
    )


def _read_json(path: str, errors: list[ScanError]) -> Any:
    """A JSON file; None when absent, None plus a ScanError when unreadable or malformed."""
    try:
        with open(path, "rb") as document:
            return json.load(document)
    except FileNotFoundError:
        return None
    except OSError as exc:
        errors.append(ScanError(ScanStage.RUNTIME, errno_name(exc), path=path))
    except (ValueError, UnicodeDecodeError):
        errors.append(
            ScanError(ScanStage.RUNTIME, f"malformed {os.path.basename(path)}", path=path)
        )
    return None


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
        directory = os.path.join(self.containers, match.container_id)
        config = _read_json(os.path.join(directory, "config.v2.json"), errors)
        if config is None:
            return None
        host_config = _read_json(os.path.join(directory, "hostconfig.json"), errors)
        return docker_identity(match.container_id, config, host_config)
