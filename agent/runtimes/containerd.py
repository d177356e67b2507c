"""containerd's CRI pods, from the task bundles under its state directory.

Each running task has a bundle `<state>/io.containerd.runtime.v2.task/<namespace>/<id>/` with the
OCI `config.json` and the shim's `init.pid`. The CRI plugin (namespace `k8s.io`) annotates every
spec with `io.kubernetes.cri.*`: the container type (sandbox or container), the sandbox id and
the pod's name, namespace and uid. Tasks without those annotations (`ctr run`, docker's `moby`
namespace) are not CRI containers and are left to other resolvers.
"""

from __future__ import annotations

import glob
import os

from ..model import ContainerIdentity, Evidence, Role, Runtime, ScanError, is_container_id
from .cgroups import CgroupMatch
from .oci_bundle import OciBundle, read_oci_bundle, read_pid_file
from .requested import requested_from_spec, through_sandbox
from .resolver import under_root

DEFAULT_STATE = "/run/containerd"
TASK_DIR = "io.containerd.runtime.v2.task"
CONTAINER_TYPE = "io.kubernetes.cri.container-type"
SANDBOX_ID = "io.kubernetes.cri.sandbox-id"
SANDBOX_NAME = "io.kubernetes.cri.sandbox-name"
SANDBOX_NAMESPACE = "io.kubernetes.cri.sandbox-namespace"
SANDBOX_UID = "io.kubernetes.cri.sandbox-uid"
CONTAINER_NAME = "io.kubernetes.cri.container-name"


def containerd_identity(
    container_id: str,
    bundle: OciBundle,
    init_pid: int | None,
    sandbox: OciBundle | None = None,
    sandbox_pid: int | None = None,
) -> ContainerIdentity | None:
    """Who a container is, from its bundle (and, for an app container, its sandbox's bundle and
    pid where still there); None when the CRI plugin did not create it."""
    annotations = bundle.annotations
    kind = annotations.get(CONTAINER_TYPE)
    if kind not in ("sandbox", "container"):
        return None
    role = Role.SANDBOX if kind == "sandbox" else Role.APP
    requested = requested_from_spec(bundle.namespaces, role, sandbox_pid)
    if sandbox is not None:
        requested = through_sandbox(
            requested, requested_from_spec(sandbox.namespaces, Role.SANDBOX)
        )
    return ContainerIdentity(
        runtime=Runtime.CONTAINERD,
        id=container_id,
        role=role,
        sandbox_id=annotations.get(SANDBOX_ID, "") if role is Role.APP else container_id,
        name=annotations.get(CONTAINER_NAME, "") if role is Role.APP else "",
        pod_name=annotations.get(SANDBOX_NAME, ""),
        pod_namespace=annotations.get(SANDBOX_NAMESPACE, ""),
        pod_uid=annotations.get(SANDBOX_UID, ""),
        evidence=Evidence.OCI_CONFIG,
        init_pid=init_pid,
        namespace_paths=bundle.namespaces,
        requested=requested,
    )


class ContainerdResolver:
    name = "containerd"

    def __init__(self, host_root: str = "/", state_dir: str = DEFAULT_STATE) -> None:
        self.task_root = os.path.join(under_root(host_root, state_dir), TASK_DIR)

    def available(self) -> bool:
        return os.path.isdir(self.task_root)

    def refresh(self, errors: list[ScanError]) -> bool:
        """Nothing is indexed: each bundle is read when its container is first seen."""
        return True

    def _bundle_dir(self, container_id: str) -> str | None:
        if not is_container_id(container_id):
            return None
        # Any containerd namespace: `k8s.io` for CRI, but a node may configure another.
        found = glob.glob(os.path.join(self.task_root, "*", container_id))
        return found[0] if found else None

    def identify(self, match: CgroupMatch, errors: list[ScanError]) -> ContainerIdentity | None:
        if match.runtime_hint not in (Runtime.CONTAINERD, None):
            return None
        bundle_dir = self._bundle_dir(match.container_id)
        if bundle_dir is None:
            return None
        bundle = read_oci_bundle(os.path.join(bundle_dir, "config.json"), errors)
        if bundle is None:
            return None
        sandbox_id = bundle.annotations.get(SANDBOX_ID, "")
        sandbox, sandbox_pid = None, None
        if is_container_id(sandbox_id) and sandbox_id != match.container_id:
            sandbox_dir = os.path.join(os.path.dirname(bundle_dir), sandbox_id)
            sandbox = read_oci_bundle(os.path.join(sandbox_dir, "config.json"), errors)
            sandbox_pid = read_pid_file(os.path.join(sandbox_dir, "init.pid"))
        return containerd_identity(
            match.container_id,
            bundle,
            read_pid_file(os.path.join(bundle_dir, "init.pid")),
            sandbox,
            sandbox_pid,
        )
