"""CRI-O's pods, from the bundles it keeps in containers/storage.

CRI-O and podman share containers/storage: both write
`<storage root>/overlay-containers/<id>/userdata/config.json` and both annotate with
`io.kubernetes.cri-o.ContainerType` and `io.kubernetes.cri-o.SandboxID`. Podman marks its own with
`io.container.manager=libpod`; those are podman's and never CRI-O's. CRI-O adds the pod's
identity: `io.kubernetes.pod.name`/`.namespace`/`.uid` and `io.kubernetes.container.name` (as
annotations, and again inside the JSON of `io.kubernetes.cri-o.Labels`), `KubeName` and
`Namespace` on the sandbox, and the kubelet-style `k8s_..._<uid>_<n>` name.

Since CRI-O 1.22 a pod that does not share its pid namespace has no infra process: the sandbox's
bundle still describes it, its namespaces are pinned by `pinns` under `/var/run/{netns,ipcns,
utsns}/`, and the app containers join those paths.
"""

from __future__ import annotations

import glob
import os

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
from .oci_bundle import OciBundle, read_oci_bundle, read_pid_file
from .requested import (
    CRI_NS_TYPES,
    requested_from_options,
    requested_from_spec,
    through_sandbox,
)
from .resolver import under_root
from .state_json import MalformedJsonError, decode_json

DEFAULT_RUN_ROOT = "/run/containers/storage"
DEFAULT_GRAPH_ROOT = "/var/lib/containers/storage"
CRIO_DIRS = ("/run/crio", "/var/lib/crio")  # CRI-O's own: present only where CRI-O runs
MANAGER = "io.container.manager"
CONTAINER_TYPE = "io.kubernetes.cri-o.ContainerType"
SANDBOX_ID = "io.kubernetes.cri-o.SandboxID"
LABELS = "io.kubernetes.cri-o.Labels"
KUBE_NAME = "io.kubernetes.cri-o.KubeName"
NAMESPACE = "io.kubernetes.cri-o.Namespace"
NAME_ANNOTATIONS = ("io.kubernetes.cri-o.ContainerName", "io.kubernetes.cri-o.Name")
NAMESPACE_OPTIONS = "io.kubernetes.cri-o.NamespaceOptions"
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_K8S_NAME = "io.kubernetes.container.name"


def _labels(annotations: dict[str, str]) -> dict[str, str]:
    try:
        return decode_json(annotations.get(LABELS, "{}"), dict[str, str])
    except MalformedJsonError:
        return {}


def _namespace_options(annotations: dict[str, str]) -> dict[str, NamespaceMode]:
    """The sandbox's CRI NamespaceOption, which CRI-O stores as JSON."""
    try:
        options = decode_json(annotations.get(NAMESPACE_OPTIONS, "{}"), dict[str, object])
    except MalformedJsonError:
        return {}
    return requested_from_options(options)


def _first_set(*values: str | None) -> str:
    """The first value that is set: annotations first, then the labels' JSON, then names."""
    return next((v for v in values if v), "")


def crio_identity(
    container_id: str, bundle: OciBundle, init_pid: int | None, sandbox: OciBundle | None = None
) -> ContainerIdentity | None:
    """Who a container is, from its bundle (and an app container's sandbox's bundle, where
    there); None for podman's containers and anything else."""
    annotations = bundle.annotations
    kind = annotations.get(CONTAINER_TYPE)
    if annotations.get(MANAGER) == "libpod" or kind not in ("sandbox", "container"):
        return None
    labels = _labels(annotations)
    names = [parse_kubelet_name(annotations.get(key, "")) for key in NAME_ANNOTATIONS]
    named = next((n for n in names if n is not None), None)
    role = Role.SANDBOX if kind == "sandbox" else Role.APP
    requested = requested_from_spec(bundle.namespaces, role)
    if role is Role.SANDBOX:
        requested |= _namespace_options(annotations)
    elif sandbox is not None:
        sandbox_requested = requested_from_spec(sandbox.namespaces, Role.SANDBOX)
        requested = through_sandbox(
            requested, sandbox_requested | _namespace_options(sandbox.annotations)
        )
    return ContainerIdentity(
        runtime=Runtime.CRIO,
        id=container_id,
        role=role,
        sandbox_id=annotations.get(SANDBOX_ID, "") if role is Role.APP else container_id,
        name=""
        if role is Role.SANDBOX
        else _first_set(
            annotations.get(CONTAINER_K8S_NAME),
            labels.get(CONTAINER_K8S_NAME),
            named.container if named else None,
        ),
        pod_name=_first_set(
            annotations.get(POD_NAME),
            labels.get(POD_NAME),
            annotations.get(KUBE_NAME),
            named.pod if named else None,
        ),
        pod_namespace=_first_set(
            annotations.get(POD_NAMESPACE),
            labels.get(POD_NAMESPACE),
            annotations.get(NAMESPACE),
            named.namespace if named else None,
        ),
        pod_uid=_first_set(
            annotations.get(POD_UID), labels.get(POD_UID), named.uid if named else None
        ),
        evidence=Evidence.OCI_CONFIG,
        init_pid=init_pid,
        namespace_paths=bundle.namespaces,
        requested={t: requested[t] for t in CRI_NS_TYPES if t in requested},
        labels=pod_labels(labels) if role is Role.SANDBOX else None,
    )


class CrioResolver:
    name = "cri-o"

    def __init__(
        self,
        host_root: str = "/",
        run_root: str = DEFAULT_RUN_ROOT,
        graph_root: str = DEFAULT_GRAPH_ROOT,
    ) -> None:
        self.host_root = host_root
        self.run_root = under_root(host_root, run_root)
        self.graph_root = under_root(host_root, graph_root)

    def available(self) -> bool:
        # The storage roots alone would say yes on every podman host; an empty directory is
        # what a DaemonSet's DirectoryOrCreate mount leaves on a node without CRI-O.
        return any(_non_empty_dir(under_root(self.host_root, d)) for d in CRIO_DIRS)

    def refresh(self, errors: list[ScanError]) -> bool:
        """Nothing is indexed: each bundle is read when its container is first seen."""
        return True

    def identify(self, match: CgroupMatch, errors: list[ScanError]) -> ContainerIdentity | None:
        if match.runtime_hint not in (Runtime.CRIO, None):
            return None
        bundle = self._bundle(match.container_id, errors)
        if bundle is None:
            return None
        sandbox_id = bundle.annotations.get(SANDBOX_ID, "")
        sandbox = None
        if sandbox_id != match.container_id:
            sandbox = self._bundle(sandbox_id, errors)
        return crio_identity(match.container_id, bundle, self._init_pid(match), sandbox)

    def _bundle(self, container_id: str, errors: list[ScanError]) -> OciBundle | None:
        if not is_container_id(container_id):
            return None
        for root in (self.run_root, self.graph_root):
            for userdata in glob.glob(f"{root}/*-containers/{container_id}/userdata"):
                if os.path.exists(f"{userdata}/config.json"):
                    return read_oci_bundle(f"{userdata}/config.json", errors)
        return None

    def _init_pid(self, match: CgroupMatch) -> int | None:
        """conmon's pid file, in the run root's userdata."""
        if not is_container_id(match.container_id):
            return None
        pattern = f"{self.run_root}/*-containers/{match.container_id}/userdata/pidfile"
        for path in glob.glob(pattern):
            return read_pid_file(path)
        return None


def _non_empty_dir(path: str) -> bool:
    try:
        return any(True for _ in os.scandir(path))
    except OSError:
        return False
