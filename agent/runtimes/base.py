"""The interface of the runtime resolvers, and the OCI bundle reader they share."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from nsinspect.agent.model import ContainerIdentity, Role, ScanError, errno_name
from nsinspect.agent.runtimes.cgroups import CgroupMatch

# OCI runtime-spec namespace type -> the name of its /proc/<pid>/ns link.
OCI_NS_TYPES = {
    "network": "net",
    "ipc": "ipc",
    "uts": "uts",
    "pid": "pid",
    "mount": "mnt",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}


class RuntimeResolver(Protocol):
    """Turns a container id found in a cgroup path into the container's identity."""

    name: str

    def available(self) -> bool:
        """Whether this runtime's state is on this node at all."""
        ...

    def refresh(self, errors: list[ScanError]) -> bool:
        """Called once per scan before `identify`: re-read indexes that may have changed.

        False when the runtime could not be read this time (recorded in `errors`).
        """
        ...

    def identify(self, match: CgroupMatch, errors: list[ScanError]) -> ContainerIdentity | None:
        """The identity of `match.container_id`, or None when this runtime does not know it."""
        ...


@dataclass(frozen=True, slots=True)
class OciBundle:
    """What nsinspect needs from an OCI bundle's config.json."""

    annotations: dict[str, str] = field(default_factory=dict)
    # ns link name -> the path the runtime joins ("" for a namespace of its own);
    # types absent from the spec are the host's.
    namespaces: dict[str, str] = field(default_factory=dict)
    hostname: str = ""


def read_oci_bundle(path: str, errors: list[ScanError]) -> OciBundle | None:
    """Read `config.json`; a missing file is None, a malformed one is None plus a ScanError."""
    try:
        with open(path, "rb") as config_file:
            document: Any = json.load(config_file)
    except FileNotFoundError:
        return None
    except OSError as exc:
        errors.append(ScanError("runtime", errno_name(exc), path=path))
        return None
    except (ValueError, UnicodeDecodeError):
        errors.append(ScanError("runtime", "malformed config.json", path=path))
        return None
    if not isinstance(document, dict):
        errors.append(ScanError("runtime", "malformed config.json", path=path))
        return None
    annotations = document.get("annotations")
    linux = document.get("linux")
    spec_namespaces = linux.get("namespaces") if isinstance(linux, dict) else None
    namespaces: dict[str, str] = {}
    for entry in spec_namespaces if isinstance(spec_namespaces, list) else []:
        if isinstance(entry, dict) and entry.get("type") in OCI_NS_TYPES:
            namespaces[OCI_NS_TYPES[entry["type"]]] = str(entry.get("path") or "")
    hostname = document.get("hostname")
    return OciBundle(
        annotations={str(k): str(v) for k, v in annotations.items()}
        if isinstance(annotations, dict)
        else {},
        namespaces=namespaces,
        hostname=hostname if isinstance(hostname, str) else "",
    )


def read_pid_file(path: str) -> int | None:
    """A runtime's pid file (`init.pid`, conmon's `pidfile`), or None if absent or malformed."""
    try:
        with open(path, "rb") as pid_file:
            return int(pid_file.read().strip())
    except (OSError, ValueError):
        return None


# The namespace types a CRI NamespaceOption speaks of; UTS follows the network's mode.
CRI_NS_TYPES = ("net", "ipc", "pid")
CRI_OPTION_FIELDS = {"network": "net", "ipc": "ipc", "pid": "pid"}
CRI_MODES = {0: "POD", 1: "CONTAINER", 2: "NODE", 3: "TARGET"}  # NamespaceMode
_PROC_NS_PATH = re.compile(r"^/proc/(?P<pid>\d+)/ns/")
_KUBELET_NAME = re.compile(
    r"^/?k8s_(?P<container>[^_]+)_(?P<pod>[^_]+)_(?P<namespace>[^_]+)_(?P<uid>[^_]+)_\d+$"
)


def requested_from_spec(
    namespaces: Mapping[str, str], role: Role, sandbox_pid: int | None = None
) -> dict[str, str]:
    """The sharing an OCI spec was set up with, in CRI's words, where the spec tells.

    A type absent from the spec is the node's (NODE). A sandbox's own namespaces are the pod's
    (POD), except pid: a sandbox always has a pid namespace of its own, whether or not the
    containers will join it, so the sandbox alone cannot tell. An app container that joins a
    path shares it (POD), unless the path names a process other than the known sandbox process
    (TARGET: another container's namespace); one that creates its own has CONTAINER.
    """
    requested: dict[str, str] = {}
    for ns_type in CRI_NS_TYPES:
        if ns_type not in namespaces:
            requested[ns_type] = "NODE"
        elif role is Role.SANDBOX:
            if ns_type != "pid":
                requested[ns_type] = "POD"
        elif not namespaces[ns_type]:
            requested[ns_type] = "CONTAINER"
        else:
            joined = _PROC_NS_PATH.match(namespaces[ns_type])
            other = joined and sandbox_pid is not None and int(joined["pid"]) != sandbox_pid
            requested[ns_type] = "TARGET" if other else "POD"
    return requested


def through_sandbox(requested: Mapping[str, str], sandbox: Mapping[str, str]) -> dict[str, str]:
    """An app container's requested sharing, given its sandbox's.

    Runtimes join an app container to its sandbox's namespaces by path even when the sandbox is
    in the node's (containerd does so for hostNetwork and hostPID pods): joining a sandbox that
    asked for NODE is asking for NODE.
    """
    return {
        ns_type: "NODE" if mode == "POD" and sandbox.get(ns_type) == "NODE" else mode
        for ns_type, mode in requested.items()
    }


def requested_from_options(options: Mapping[str, object]) -> dict[str, str]:
    """A CRI NamespaceOption as JSON (`{"network": 2, "pid": 1}`) in CRI's words.

    Runtimes serialise the modes as numbers or as names, and leave out the default (POD).
    """
    requested: dict[str, str] = {}
    for field_name, ns_type in CRI_OPTION_FIELDS.items():
        mode = options.get(field_name, 0)
        name = CRI_MODES.get(mode, "") if isinstance(mode, int) else str(mode).upper()
        if name in CRI_MODES.values():
            requested[ns_type] = name
    return requested


@dataclass(frozen=True, slots=True)
class KubeletName:
    """The parts of a name kubelet's dockershim (now cri-dockerd) and CRI-O give containers."""

    container: str  # "POD" for the sandbox
    pod: str
    namespace: str
    uid: str


def parse_kubelet_name(name: str) -> KubeletName | None:
    """`k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`: Kubernetes names hold no `_`."""
    found = _KUBELET_NAME.match(name)
    if found is None:
        return None
    return KubeletName(found["container"], found["pod"], found["namespace"], found["uid"])


def under_root(host_root: str, path: str) -> str:
    """`path` (absolute on the node) as seen from a host root such as `/host`."""
    return os.path.join(host_root, path.lstrip("/"))
