"""Pods as pairing concludes them: sandbox, app containers, a verdict per namespace, findings.

These are in-memory types; the `nsinspect/v1` documents are the report model (`agent/report/`),
built from these, so the wire format can stay stable while the model changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from .vocabulary import (
    Evidence,
    NameSource,
    NamespaceMode,
    Role,
    Runtime,
    SandboxProcess,
    Severity,
    Verdict,
)

# A pod's runtime, namespace, name and uid: what keeps it apart from every other pod on a node.
PodIdentityKey = tuple[str, str, str, str]
_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


def is_container_id(text: str) -> bool:
    """64 hex digits, as containerd, CRI-O, podman and docker name their containers (in cgroup
    paths and in Kubernetes' `containerID` too). Only such an id becomes part of a path in a
    runtime's state directory: an id taken from an annotation or a label may say `../..` or `*`."""
    return _CONTAINER_ID.fullmatch(text) is not None


class PodRef(msgspec.Struct, frozen=True):
    """A pod's name in its Kubernetes namespace ("" for podman and runtime-less pods)."""

    namespace: str
    name: str

    @property
    def key(self) -> str:
        """`namespace/name`, or `name` where there is no Kubernetes namespace: the wire form."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


class ContainerIdentity(msgspec.Struct, frozen=True):
    """Who a container is, as its runtime describes it."""

    runtime: Runtime
    id: str
    role: Role
    sandbox_id: str  # the pod's sandbox container id (its own id for the sandbox)
    name: str = ""  # the Kubernetes container name; "" for a sandbox
    pod_name: str = ""
    pod_namespace: str = ""  # "" where there is no Kubernetes namespace (podman, runtime-less)
    pod_uid: str = ""
    evidence: Evidence = Evidence.OCI_CONFIG
    init_pid: int | None = None  # as the runtime recorded it, when it did
    # Namespace paths from the OCI spec (`/proc/<pid>/ns/net`, `/var/run/netns/...`): how the
    # container was told to join; for a pinned sandbox the only description of its namespaces.
    namespace_paths: Mapping[str, str] = msgspec.field(default_factory=dict)
    # What the pod asked for (CRI NamespaceOptions or the runtime's pod config), per type.
    requested: Mapping[str, NamespaceMode] = msgspec.field(default_factory=dict)
    names_from: NameSource = NameSource.RUNTIME  # where `name` came from
    # The pod's labels where this record holds them (a Kubernetes sandbox's, any member of a
    # podman pod); None where it does not (an app container's CRI labels are not the pod's).
    labels: Mapping[str, str] | None = None


class NamespaceVerdict(msgspec.Struct, frozen=True):
    ns_type: str
    inode: int | None
    verdict: Verdict
    shared_with_sandbox: bool
    reason: str = ""  # why the verdict is unknown
    other_pod: PodRef | None = None  # the pod whose namespace this is, for `other`


class Container(msgspec.Struct, frozen=True):
    identity: ContainerIdentity
    pid: int | None  # the container's init process
    pids: tuple[int, ...]
    namespaces: Mapping[str, NamespaceVerdict]

    @property
    def name(self) -> str:
        return self.identity.name


class Sandbox(msgspec.Struct, frozen=True):
    id: str
    pid: int | None
    process: SandboxProcess
    namespaces: Mapping[str, int | None]
    comm: str = ""
    start_time: int | None = None  # clock ticks after boot
    pins: Mapping[str, str] = msgspec.field(default_factory=dict)  # type -> bind-mount path


class PodIntent(msgspec.Struct, frozen=True):
    """What the Kubernetes pod spec asks for."""

    host_network: bool = False
    host_ipc: bool = False
    host_pid: bool = False
    share_process_namespace: bool = False
    container_names: tuple[str, ...] = ()
    name: str = ""
    namespace: str = ""
    # The pod's status: runtime container id (without `containerd://`) -> container name.
    container_ids: Mapping[str, str] = msgspec.field(default_factory=dict)
    # metadata.labels: current where the sandbox's copy is as of its creation; None: none given.
    labels: Mapping[str, str] | None = None


class Mismatch(msgspec.Struct, frozen=True):
    """A container whose namespace of one type is not what its pod's spec implies."""

    container: str
    ns_type: str
    expected: NamespaceMode  # POD, CONTAINER or NODE
    actual: NamespaceMode  # the same words, or OTHER
    expected_by: str  # where the expectation came from: kubernetes, cri, podman, ...
    inode: int | None


class NamespaceGrouping(msgspec.Struct, frozen=True):
    """Why processes no runtime knows were taken for a pod: a holder, and processes that joined
    its net, ipc and uts namespaces from outside its process tree (as a runtime joins a sandbox;
    a tree that unshared its own namespaces has no such process)."""

    holder_pid: int
    holder_comm: str
    joined_pids: tuple[int, ...]  # the top process of each tree that joined

    @property
    def text(self) -> str:
        """The evidence in a sentence, for people."""
        count = len(self.joined_pids)
        joined = "1 process that" if count == 1 else f"{count} processes that"
        return (
            f"no runtime knows these processes: holder pid {self.holder_pid} "
            f"({self.holder_comm}) and {joined} joined its net, ipc and uts from outside its "
            f"process tree (pid {', '.join(str(pid) for pid in self.joined_pids)})"
        )


class Pod(msgspec.Struct, frozen=True):
    runtime: Runtime
    evidence: Evidence
    name: str
    namespace: str
    uid: str
    sandbox: Sandbox
    containers: tuple[Container, ...]  # app containers only
    intent: PodIntent | None = None  # what the Kubernetes pod spec asks for, when known
    # What the runtime was asked for, per type (CRI's words).
    requested: Mapping[str, NamespaceMode] = msgspec.field(default_factory=dict)
    # Concluded with the verdicts: where the kernel differs from what the spec implies, and for
    # each spec type whose node namespace the pod uses, the app containers in it.
    mismatches: tuple[Mismatch, ...] = ()
    host_use: Mapping[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    # For a pod found by its namespaces alone (runtime `none`): the evidence that grouped it.
    grouping: NamespaceGrouping | None = None
    names_from: NameSource = NameSource.RUNTIME  # where `namespace` and `name` came from
    labels: Mapping[str, str] | None = None  # as its runtime holds them; None: no runtime does

    @property
    def ref(self) -> PodRef:
        return PodRef(self.namespace, self.name)

    @property
    def key(self) -> str:
        """`namespace/name`, or `name` where there is no Kubernetes namespace."""
        return self.ref.key

    @property
    def identity_key(self) -> PodIdentityKey:
        """What tells this pod from every other on the node, from one scan to the next."""
        return (self.runtime, self.namespace, self.name, self.uid)

    def pids(self) -> set[int]:
        """Every process of the pod: its sandbox's and its containers'."""
        pids = {pid for container in self.containers for pid in container.pids}
        if self.sandbox.pid is not None:
            pids.add(self.sandbox.pid)
        return pids


class Finding(msgspec.Struct, frozen=True):
    code: str
    severity: Severity
    message: str
    pod: PodRef | None = None  # None for a finding about no pod (an orphan namespace)
    container: str = ""
    ns_type: str = ""
    evidence: Mapping[str, object] = msgspec.field(default_factory=dict)
    # About a pod no runtime knows (found by its namespaces alone): `doctor` can leave these out.
    runtime_less: bool = False
