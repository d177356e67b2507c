"""The PodReport and PodList documents: the contract scripts rely on (`-o json`, the API).

Fields may be added; these keep their names and meaning. Command lines and environments are
never included: they can hold secrets.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from ..model import (
    Evidence,
    FoundBy,
    HostReferenceKind,
    LocationKind,
    NameSource,
    NamespaceMode,
    PodRef,
    Role,
    Runtime,
    SandboxProcess,
    ScanStage,
    Severity,
    Verdict,
)
from .details import IpcReport, NetworkReport, UtsReport
from .wire import Document, WireStruct


class VerdictEntry(WireStruct, frozen=True, kw_only=True):
    """One container's namespace of one type."""

    inode: int | None
    verdict: Verdict
    shared_with_sandbox: bool
    reason: str | UnsetType = UNSET  # why the verdict is unknown
    other_pod: str | UnsetType = UNSET  # the other pod's key, for `other`


class ProcessFacts(WireStruct, frozen=True, kw_only=True):
    """What the node's process table says of a container's main process (psutil): who runs it,
    how big it is, since when. Never its command line or environment (they can hold secrets)."""

    user: str  # the name of its real uid on the node, else the number
    uid: int
    threads: int
    rss_bytes: int
    cpu_seconds: float  # user + system
    started_at: float  # seconds since the epoch


class ContainerReport(WireStruct, frozen=True, kw_only=True):
    name: str
    id: str
    pid: int | None
    pids: list[int]
    role: Role
    namespaces: dict[str, VerdictEntry]
    names_from: NameSource | UnsetType = UNSET  # `kubernetes` where the API server named it
    process: ProcessFacts | UnsetType = UNSET  # in a single pod's report, when it could be read


class GroupingReport(WireStruct, frozen=True, kw_only=True):
    """Why a pod no runtime knows was taken for one: its holder, and the processes that joined
    the holder's net, ipc and uts namespaces from outside its process tree."""

    holder_pid: int
    holder_comm: str
    joined_pids: list[int]  # the top process of each tree that joined
    text: str  # the same, in a sentence


class PodIdentity(WireStruct, frozen=True, kw_only=True):
    """The `pod` section: who the pod is, and on what evidence."""

    namespace: str
    name: str
    uid: str
    runtime: Runtime
    evidence: Evidence = msgspec.field(name="source")
    grouping: GroupingReport | UnsetType = UNSET  # for a pod found by its namespaces alone
    # `kubernetes` where the API server named a pod no runtime could (pod uid -> name).
    names_from: NameSource | UnsetType = UNSET
    # The pod's labels, as the runtime holds them (kubelet copies them to the sandbox).
    labels: dict[str, str] | UnsetType = UNSET

    @property
    def key(self) -> str:
        return PodRef(self.namespace, self.name).key


class SandboxReport(WireStruct, frozen=True, kw_only=True):
    id: str
    pid: int | None
    process: SandboxProcess
    comm: str
    start_time: int | None
    namespaces: dict[str, int | None]
    pins: dict[str, str]


class IntentReport(WireStruct, frozen=True, kw_only=True):
    """What the Kubernetes pod spec asks for."""

    host_network: bool = msgspec.field(name="hostNetwork")
    host_ipc: bool = msgspec.field(name="hostIPC")
    host_pid: bool = msgspec.field(name="hostPID")
    share_process_namespace: bool = msgspec.field(name="shareProcessNamespace")
    containers: list[str]
    source: str = "kubernetes"


class HostReport(WireStruct, frozen=True, kw_only=True):
    """The namespaces that count as the node's own, and whose they are."""

    kind: HostReferenceKind = msgspec.field(name="source")
    pid: int
    namespaces: dict[str, int | None]
    note: str


class FindingReport(WireStruct, frozen=True, kw_only=True):
    code: str
    severity: Severity
    message: str
    pod: str  # the pod's key ("" for a finding about no pod)
    container: str
    ns_type: str
    evidence: dict[str, Any]
    node: str | UnsetType = UNSET  # in lists merged from several agents
    # `true` on a finding about a pod no runtime knows (found by its namespaces alone).
    runtime_less: bool | UnsetType = UNSET


class ScanErrorReport(WireStruct, frozen=True, kw_only=True):
    """Something a scan could not read. In a list document's `errors`, one entry per cause: how
    many processes or paths it hit (`count`; `path` is one of them) and a sentence that says
    what was not seen and what would help (`message`)."""

    stage: ScanStage
    reason: str
    pid: int | UnsetType = UNSET
    path: str | UnsetType = UNSET
    count: int | UnsetType = UNSET
    message: str | UnsetType = UNSET
    node: str | UnsetType = UNSET  # in lists merged from several agents


class RuntimeLocationReport(WireStruct, frozen=True, kw_only=True):
    """Where a runtime was looked for, how that place was found, and whether it was read."""

    runtime: Runtime
    what: LocationKind
    path: str  # a node path
    found_by: FoundBy
    pid: int | UnsetType = UNSET  # the runtime process that named it (found_by `process`)
    exe: str | UnsetType = UNSET  # that process's executable
    argument: str | UnsetType = UNSET  # which of its arguments (`-address`, `cwd`, ...)
    readable: bool
    reason: str | UnsetType = UNSET  # why it could not be read


class PodReport(Document, frozen=True, kw_only=True):
    kind: str = "PodReport"
    node: str
    taken_at: float
    pod: PodIdentity
    sandbox: SandboxReport
    containers: list[ContainerReport]  # app containers only
    requested: dict[str, NamespaceMode]
    intent: IntentReport | None
    host: HostReport
    findings: list[FindingReport]
    errors: list[ScanErrorReport]
    # Inside the shared namespaces: only in a single pod's report.
    network: NetworkReport | UnsetType = UNSET
    uts: UtsReport | UnsetType = UNSET
    ipc: IpcReport | UnsetType = UNSET


class PodList(Document, frozen=True, kw_only=True):
    kind: str = "PodList"
    node: str  # "" for a list merged from several agents
    taken_at: float | UnsetType = UNSET
    runtimes: list[RuntimeLocationReport] | UnsetType = UNSET  # where the scan found them
    items: list[PodReport]
    unreachable: dict[str, str] | UnsetType = UNSET  # node -> why its agent did not answer
    errors: list[ScanErrorReport] | UnsetType = UNSET  # what the scan could not see, per cause


class FindingList(Document, frozen=True, kw_only=True):
    kind: str = "FindingList"
    node: str
    taken_at: float | UnsetType = UNSET
    items: list[FindingReport]
    unreachable: dict[str, str] | UnsetType = UNSET
    errors: list[ScanErrorReport] | UnsetType = UNSET  # what the scan could not see, per cause


class Status(Document, frozen=True, kw_only=True):
    """An error, as the agent's API answers it."""

    kind: str = "Status"
    code: int
    reason: str
    message: str
