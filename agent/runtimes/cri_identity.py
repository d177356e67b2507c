"""Container identities from what the CRI says: pure functions of the CRI's messages.

The CRI is the authoritative source for a pod's name, namespace and uid (its sandbox metadata),
for the sandbox's pid and for the NamespaceOptions kubelet asked for. Pids and the per-container
options are only in the verbose `info` of the status calls: a runtime-specific JSON document
under the key `info` (containerd and CRI-O both use it) holding `pid`, the OCI `runtimeSpec` and,
with containerd, the CRI `config` the container was created with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..model import ContainerIdentity, Evidence, NamespaceMode, Role, Runtime
from .cri_api import runtime_v1_pb2 as cri
from .kubelet_names import pod_labels
from .oci_bundle import OciConfig, spec_namespaces
from .requested import CRI_NS_TYPES, requested_from_options, requested_from_spec
from .state_json import MalformedJsonError, decode_json

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"


class _SecurityContext(msgspec.Struct):
    namespace_options: dict[str, Any] | None = None


class _LinuxConfig(msgspec.Struct):
    security_context: _SecurityContext | None = None


class _CriConfig(msgspec.Struct):
    linux: _LinuxConfig | None = None


class _VerboseDocument(msgspec.Struct, rename="camel"):
    """The part of a verbose `info` nsinspect reads: containerd's and CRI-O's have these keys."""

    pid: int | None = None
    runtime_spec: OciConfig | None = None
    config: _CriConfig | None = None


@dataclass(frozen=True, slots=True)
class VerboseInfo:
    """What nsinspect reads from a verbose status's `info`."""

    pid: int | None = None
    namespace_paths: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] | None = None  # the CRI NamespaceOption the config carried
    malformed: bool = False


def parse_verbose_info(info: Mapping[str, str]) -> VerboseInfo:
    """The pid, the spec's namespace paths and the config's NamespaceOption, where present."""
    text = info.get("info")
    if not text:
        return VerboseInfo()
    try:
        document = decode_json(text, _VerboseDocument)
    except MalformedJsonError:
        return VerboseInfo(malformed=True)
    linux = document.config.linux if document.config is not None else None
    security = linux.security_context if linux is not None else None
    return VerboseInfo(
        pid=document.pid if document.pid is not None and document.pid > 0 else None,
        namespace_paths=spec_namespaces(document.runtime_spec) if document.runtime_spec else {},
        options=security.namespace_options if security is not None else None,
    )


def _option_modes(options: cri.NamespaceOption) -> dict[str, NamespaceMode]:
    return {
        "net": NamespaceMode(cri.NamespaceMode.Name(options.network)),
        "ipc": NamespaceMode(cri.NamespaceMode.Name(options.ipc)),
        "pid": NamespaceMode(cri.NamespaceMode.Name(options.pid)),
    }


def sandbox_identity(
    runtime: Runtime,
    sandbox: cri.PodSandbox,
    status: cri.PodSandboxStatusResponse,
    verbose: VerboseInfo,
) -> ContainerIdentity:
    """A sandbox; `verbose` is its status's parsed `info`."""
    linux = status.status.linux
    if linux.HasField("namespaces") and linux.namespaces.HasField("options"):
        requested = _option_modes(linux.namespaces.options)
    elif verbose.options is not None:
        requested = requested_from_options(verbose.options)
    else:
        requested = requested_from_spec(verbose.namespace_paths, Role.SANDBOX)
    metadata = sandbox.metadata
    return ContainerIdentity(
        runtime=runtime,
        id=sandbox.id,
        role=Role.SANDBOX,
        sandbox_id=sandbox.id,
        pod_name=metadata.name,
        pod_namespace=metadata.namespace,
        pod_uid=metadata.uid,
        evidence=Evidence.CRI,
        init_pid=verbose.pid,
        namespace_paths=verbose.namespace_paths,
        requested=requested,
        labels=pod_labels(sandbox.labels),
    )


def container_identity(
    runtime: Runtime,
    container: cri.Container,
    verbose: VerboseInfo,
    sandbox: ContainerIdentity | None,
) -> ContainerIdentity:
    """An app container; its pod's identity comes from its sandbox, else from kubelet's labels."""
    if verbose.options is not None:
        requested = requested_from_options(verbose.options)
    elif verbose.namespace_paths:
        sandbox_pid = sandbox.init_pid if sandbox else None
        requested = requested_from_spec(verbose.namespace_paths, Role.APP, sandbox_pid)
    else:
        requested = dict(sandbox.requested) if sandbox else {}
    labels = container.labels
    return ContainerIdentity(
        runtime=runtime,
        id=container.id,
        role=Role.APP,
        sandbox_id=container.pod_sandbox_id,
        name=container.metadata.name,
        pod_name=sandbox.pod_name if sandbox else labels.get(POD_NAME, ""),
        pod_namespace=sandbox.pod_namespace if sandbox else labels.get(POD_NAMESPACE, ""),
        pod_uid=sandbox.pod_uid if sandbox else labels.get(POD_UID, ""),
        evidence=Evidence.CRI,
        init_pid=verbose.pid,
        namespace_paths=verbose.namespace_paths,
        requested={t: requested[t] for t in CRI_NS_TYPES if t in requested},
    )
