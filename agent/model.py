"""The data model: what a scan finds and what pairing concludes.

These are the in-memory types. The wire format (the `nsinspect/v1` JSON documents) is built from
them in `documents.py`, so the API can stay stable while the model changes.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# Display order: the ones a pod shares first, then the ones it keeps, then the node-wide ones.
NS_TYPES: tuple[str, ...] = ("net", "ipc", "uts", "pid", "mnt", "user", "cgroup", "time")
# Where a process's children will live; differs from `pid`/`time` after unshare(2) without fork.
CHILD_NS_TYPES: tuple[str, ...] = ("pid_for_children", "time_for_children")
ALL_NS_TYPES: tuple[str, ...] = NS_TYPES + CHILD_NS_TYPES


class Verdict(StrEnum):
    """Where a container's namespace of one type is, relative to its pod and the node."""

    UNKNOWN = "unknown"  # the link could not be read
    HOST = "host"  # the node's namespace (wins over `pod`: the security-relevant fact)
    POD = "pod"  # its sandbox's namespace
    OTHER = "other"  # another pod's sandbox namespace
    PRIVATE = "private"  # its own


class Role(StrEnum):
    SANDBOX = "sandbox"
    APP = "app"


class SandboxProcess(StrEnum):
    PRESENT = "present"  # a pause (infra) process holds the namespaces
    PINNED = "pinned"  # only bind mounts hold them (CRI-O without an infra container)
    MISSING = "missing"  # app containers run, but the sandbox process is gone


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    ppid: int
    comm: str
    start_time: int  # clock ticks after boot, from /proc/<pid>/stat: tells pid reuse apart
    cgroup_paths: tuple[str, ...]  # distinct paths over all hierarchies, unified first
    namespaces: Mapping[str, int | None]  # type -> inode; None where the link was unreadable
    ns_errors: Mapping[str, str] = field(default_factory=dict)  # type -> errno name


def errno_name(exc: OSError) -> str:
    """`EACCES` for a permission error: the short reason scan errors and verdicts carry."""
    return errno.errorcode.get(exc.errno or 0, str(exc))


@dataclass(frozen=True, slots=True)
class ScanError:
    """A problem met during a scan; recorded, never raised."""

    stage: str  # stat, ns, cgroup, runtime, mounts, ...
    reason: str  # an errno name or a short phrase
    pid: int | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class HostReference:
    """The namespaces that count as the node's own."""

    source: str  # "pid1", "kthreadd" or "self"
    pid: int
    namespaces: Mapping[str, int | None]
    note: str = ""  # why the preferred source was not used


@dataclass(frozen=True, slots=True)
class ContainerIdentity:
    """Who a container is, as its runtime describes it."""

    runtime: str  # podman, containerd, cri-o, docker, none
    id: str
    role: Role
    sandbox_id: str  # the pod's sandbox container id (its own id for the sandbox)
    name: str = ""  # the Kubernetes container name; "" for a sandbox
    pod_name: str = ""
    pod_namespace: str = ""  # "" where there is no Kubernetes namespace (podman, runtime-less)
    pod_uid: str = ""
    source: str = "oci-config"  # what decided: cri, oci-config, cgroup, namespaces
    init_pid: int | None = None  # as the runtime recorded it, when it did
    # Namespace paths from the OCI spec (`/proc/<pid>/ns/net`, `/var/run/netns/...`): how the
    # container was told to join; for a pinned sandbox the only description of its namespaces.
    namespace_paths: Mapping[str, str] = field(default_factory=dict)
    # What the pod asked for (CRI NamespaceOptions or the runtime's pod config): type -> mode
    # (POD, CONTAINER, NODE, TARGET).
    requested: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NamespaceVerdict:
    ns_type: str
    inode: int | None
    verdict: Verdict
    shared_with_sandbox: bool
    reason: str = ""  # why the verdict is unknown
    other_pod: str = ""  # "namespace/name" of the pod whose namespace this is, for `other`


@dataclass(frozen=True, slots=True)
class Container:
    identity: ContainerIdentity
    pid: int | None  # the container's init process
    pids: tuple[int, ...]
    namespaces: Mapping[str, NamespaceVerdict]

    @property
    def name(self) -> str:
        return self.identity.name


@dataclass(frozen=True, slots=True)
class Sandbox:
    id: str
    pid: int | None
    process: SandboxProcess
    namespaces: Mapping[str, int | None]
    comm: str = ""
    start_time: int | None = None  # clock ticks after boot
    pins: Mapping[str, str] = field(default_factory=dict)  # type -> bind-mount path


@dataclass(frozen=True, slots=True)
class PodIntent:
    """What the Kubernetes pod spec asks for."""

    host_network: bool = False
    host_ipc: bool = False
    host_pid: bool = False
    share_process_namespace: bool = False
    container_names: tuple[str, ...] = ()
    name: str = ""
    namespace: str = ""
    source: str = "kubernetes"


@dataclass(frozen=True, slots=True)
class Pod:
    runtime: str
    source: str
    name: str
    namespace: str
    uid: str
    sandbox: Sandbox
    containers: tuple[Container, ...]  # app containers only
    intent: PodIntent | None = None  # what the Kubernetes pod spec asks for, when known
    # What the runtime was asked for, per type: POD, CONTAINER, NODE or TARGET (CRI's words).
    requested: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """`namespace/name`, or `name` where there is no Kubernetes namespace."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class PinnedNamespace:
    ns_type: str
    inode: int
    path: str  # the bind-mount target, or `/proc/<pid>/fd/<n>` for a held fd
    holder_pid: int | None = None  # for an fd pin: the process holding it


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: str  # info, warning, critical
    message: str
    pod: str = ""  # pod key
    container: str = ""
    ns_type: str = ""
    evidence: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Snapshot:
    node: str
    taken_at: float  # unix seconds
    duration_seconds: float
    host: HostReference
    processes: Mapping[int, Process]
    pods: tuple[Pod, ...]
    pinned: tuple[PinnedNamespace, ...] = ()
    orphans: tuple[PinnedNamespace, ...] = ()
    findings: tuple[Finding, ...] = ()
    errors: tuple[ScanError, ...] = ()
    runtimes: Mapping[str, bool] = field(default_factory=dict)  # runtime -> state found
    proc_root: str = "/proc"
