"""Podman pods: cgroups `libpod_parent/<pod id>/libpod-<id>`, bundles, libpod's database.

The infra container is the sandbox. App containers' bundles say
`io.kubernetes.cri-o.ContainerType=container` and name their infra in
`io.kubernetes.cri-o.SandboxID`; the infra's own bundle has no type. Container names come from
containers/storage (`<pod>-<container>`, shown as `<container>`), the pod's name and the namespaces
it shares from libpod's database.
"""

from __future__ import annotations

import glob
import os

import msgspec

from ..model import (
    SPEC_TYPES,
    ContainerIdentity,
    Evidence,
    NamespaceMode,
    Role,
    Runtime,
    ScanError,
    is_container_id,
)
from .cgroups import CgroupMatch
from .oci_bundle import OciBundle, read_oci_bundle, read_pid_file
from .podman_db import PodmanPod, read_podman_pods
from .resolver import under_root
from .state_json import read_json_file

CONTAINER_TYPE = "io.kubernetes.cri-o.ContainerType"
SANDBOX_ID = "io.kubernetes.cri-o.SandboxID"
# ~2 KiB a container (its layer, image, names and metadata): some 8,000 containers, exited ones
# included, which containers/storage keeps until they are removed.
CONTAINER_LIST_CAP = 16 << 20


class StoredContainer(msgspec.Struct):
    """A record of containers/storage's `containers.json`: the names of a container."""

    id: str = ""
    names: list[str] | None = None


class PodmanResolver:
    name = "podman"

    def __init__(
        self,
        host_root: str = "/",
        graph_root: str = "/var/lib/containers/storage",
        run_root: str = "/run/containers/storage",
    ) -> None:
        self.graph_root = under_root(host_root, graph_root)
        self.run_root = under_root(host_root, run_root)
        self._pods: dict[str, PodmanPod] = {}
        self._names: dict[str, str] = {}
        self._stamps: dict[str, float] = {}

    def available(self) -> bool:
        return os.path.isdir(f"{self.graph_root}/libpod")

    def refresh(self, errors: list[ScanError]) -> bool:
        libpod = f"{self.graph_root}/libpod"
        if self._changed([f"{libpod}/bolt_state.db", f"{libpod}/db.sql"]):
            self._pods = read_podman_pods(libpod, errors)
        if self._changed(self._container_lists()):
            self._names = self._read_names(errors)
        return True

    def _container_lists(self) -> list[str]:
        return sorted(glob.glob(f"{self.graph_root}/*-containers/containers.json"))

    def _changed(self, paths: list[str]) -> bool:
        """Whether any of the files changed (by mtime) since the last look."""
        changed = False
        for path in paths:
            try:
                stamp = os.stat(path).st_mtime
            except OSError:
                stamp = -1.0
            if self._stamps.get(path) != stamp:
                self._stamps[path] = stamp
                changed = True
        return changed

    def _read_names(self, errors: list[ScanError]) -> dict[str, str]:
        names: dict[str, str] = {}
        for path in self._container_lists():
            records = read_json_file(path, CONTAINER_LIST_CAP, list[StoredContainer], errors)
            for record in records or ():
                if record.id and record.names:
                    names[record.id] = record.names[0]
        return names

    def _bundle(self, container_id: str, errors: list[ScanError]) -> OciBundle | None:
        if not is_container_id(container_id):
            return None
        for path in glob.glob(
            f"{self.graph_root}/*-containers/{container_id}/userdata/config.json"
        ):
            return read_oci_bundle(path, errors)
        return None

    def identify(self, match: CgroupMatch, errors: list[ScanError]) -> ContainerIdentity | None:
        if match.runtime_hint is not Runtime.PODMAN or not match.podman_pod_id:
            return None  # not podman's, or a container outside any pod
        bundle = self._bundle(match.container_id, errors)
        if bundle is None:
            return None
        pod = self._pods.get(match.podman_pod_id)
        pod_name = (pod.name if pod else "") or bundle.hostname or match.podman_pod_id[:12]
        is_app = bundle.annotations.get(CONTAINER_TYPE) == "container"
        full_name = self._names.get(match.container_id, "")
        return ContainerIdentity(
            runtime=Runtime.PODMAN,
            id=match.container_id,
            role=Role.APP if is_app else Role.SANDBOX,
            sandbox_id=bundle.annotations.get(SANDBOX_ID, "") if is_app else match.container_id,
            name=full_name.removeprefix(f"{pod_name}-") if is_app else "",
            pod_name=pod_name,
            pod_uid=match.podman_pod_id,
            evidence=Evidence.OCI_CONFIG,
            init_pid=read_pid_file(
                f"{self.run_root}/overlay-containers/{match.container_id}/userdata/pidfile"
            ),
            namespace_paths=bundle.namespaces,
            requested={} if is_app else _requested(pod, bundle),
            labels=None if pod is None else dict(pod.labels),
        )


def _requested(pod: PodmanPod | None, infra: OciBundle) -> dict[str, NamespaceMode]:
    """The sharing the pod was created with, in CRI's words (POD, CONTAINER, NODE)."""
    if pod is None:
        return {}
    requested: dict[str, NamespaceMode] = {}
    for ns_type in SPEC_TYPES:
        if ns_type not in infra.namespaces:
            # The infra's spec does not create it: the host's.
            requested[ns_type] = NamespaceMode.NODE
        elif ns_type in pod.shared:
            requested[ns_type] = NamespaceMode.POD
        else:
            requested[ns_type] = NamespaceMode.CONTAINER
    return requested
