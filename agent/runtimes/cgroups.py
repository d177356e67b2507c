"""Tell from a cgroup path which container (and pod) a process belongs to.

Covers kubelet's two cgroup drivers on cgroup v1 and v2, containerd without a kubelet parent,
and podman's pods:

    cgroupfs  /kubepods/besteffort/pod<uid>/<id>   /kubepods/pod<uid>/crio-<id> (Guaranteed: no
              QoS part)   /k8s.io/<id> (containerd without a cgroup parent)
    systemd   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/
                  cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
    podman    /libpod_parent/<pod id>/libpod-<id>
              /machine.slice/machine-libpod_pod_<pod id>.slice/libpod-<id>.scope

Paths are searched, never anchored: inside a cgroup namespace they are relative, and a container
may nest cgroups of its own below its scope. Conmon's scopes are not containers.
"""

from __future__ import annotations

import re

import msgspec

from ..model import Runtime

_CONTAINER_COMPONENT = re.compile(
    r"^(?:(?P<prefix>cri-containerd|crio|docker|libpod)-)?(?P<id>[0-9a-f]{64})(?:\.scope)?$"
)
# containerd's systemd cgroupsPath form when it leaks into a path: "<slice>:cri-containerd:<id>"
_COLON_FORM = re.compile(r":(?P<prefix>cri-containerd|crio|docker):(?P<id>[0-9a-f]{64})$")
_CONMON = re.compile(r"^(?:crio|libpod)-conmon-")
_POD_UID = re.compile(
    r"pod(?P<uid>[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$"
)
_PODMAN_POD = re.compile(r"^(?:machine-libpod_pod_)?(?P<id>[0-9a-f]{64})(?:\.slice)?$")

RUNTIME_BY_PREFIX = {
    "cri-containerd": Runtime.CONTAINERD,
    "crio": Runtime.CRIO,
    "docker": Runtime.DOCKER,
    "libpod": Runtime.PODMAN,
}


class CgroupMatch(msgspec.Struct, frozen=True):
    container_id: str
    runtime_hint: Runtime | None = None  # from the scope prefix; None when the path does not say
    pod_uid: str = ""  # kubelet's pod uid, with dashes
    podman_pod_id: str = ""
    kubelet_layout: bool = False  # under kubepods: a Kubernetes pod


def match_cgroup_path(path: str) -> CgroupMatch | None:
    """The container a cgroup path names, or None."""
    components = [c for c in path.split("/") if c and c != ".."]
    for index in range(len(components) - 1, -1, -1):
        component = components[index]
        if _CONMON.match(component):
            return None
        found = _CONTAINER_COMPONENT.match(component) or _COLON_FORM.search(component)
        if found is None:
            continue
        prefix = found.group("prefix") or ""
        # In the colon form the pod's slice is the part before the first colon.
        parents = components[:index] + [component.split(":")[0]] * (":" in component)
        pod_uid = _pod_uid(parents)
        return CgroupMatch(
            container_id=found.group("id"),
            runtime_hint=RUNTIME_BY_PREFIX.get(prefix),
            pod_uid=pod_uid,
            podman_pod_id=_podman_pod_id(parents) if prefix == "libpod" else "",
            # `kubepods`, `kubepods.slice`, `kubepods-besteffort.slice`, and under a
            # --cgroup-root such as kind's `/kubelet`: `kubelet-kubepods.slice`. Seen from a
            # cgroup namespace rooted inside kubepods (`/../pod<uid>/<id>`), the pod's own
            # component is all that is left of the layout.
            kubelet_layout=bool(pod_uid) or any("kubepods" in p for p in parents),
        )
    return None


def match_cgroup(paths: tuple[str, ...]) -> CgroupMatch | None:
    """The first container named by any of a process's cgroup paths (unified first)."""
    for path in paths:
        found = match_cgroup_path(path)
        if found is not None:
            return found
    return None


def _pod_uid(parents: list[str]) -> str:
    for component in reversed(parents):
        found = _POD_UID.search(component)
        if found is not None:
            return found.group("uid").replace("_", "-")
    return ""


def _podman_pod_id(parents: list[str]) -> str:
    if not parents:
        return ""
    found = _PODMAN_POD.match(parents[-1])
    return found.group("id") if found is not None else ""
