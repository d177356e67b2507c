"""The NamespaceReport, NamespaceList and ProcessReport documents."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from ..model import Role
from .pod import HostReport, ProcessFacts, ScanErrorReport
from .wire import Document, WireStruct


class PodMember(WireStruct, frozen=True, kw_only=True):
    """A pod's sandbox or app container, where a namespace or process belongs."""

    pod: str  # the pod's key
    container: str  # "" for the sandbox
    role: Role


class ProcessBrief(WireStruct, frozen=True, kw_only=True):
    pid: int
    comm: str


class NamespaceFacts(WireStruct, frozen=True, kw_only=True):
    """One namespace in a NamespaceList: who is in it, what pins it, which pods use it."""

    ns_type: str = msgspec.field(name="type")
    inode: int
    host: bool
    processes: list[ProcessBrief]
    pins: list[str]
    orphan: bool
    users: list[PodMember]


class NamespaceReport(Document, frozen=True, kw_only=True):
    """One namespace on its own: the same facts, as a document."""

    kind: str = "NamespaceReport"
    node: str
    ns_type: str = msgspec.field(name="type")
    inode: int
    host: bool
    processes: list[ProcessBrief]
    pins: list[str]
    orphan: bool
    users: list[PodMember]
    errors: list[ScanErrorReport] | UnsetType = UNSET  # what the scan could not see, per cause


class PinReport(WireStruct, frozen=True, kw_only=True):
    ns_type: str = msgspec.field(name="type")
    inode: int
    path: str
    holder_pid: int | None


class NamespaceList(Document, frozen=True, kw_only=True):
    kind: str = "NamespaceList"
    node: str
    taken_at: float
    orphans: list[PinReport]
    items: list[NamespaceFacts]
    errors: list[ScanErrorReport] | UnsetType = UNSET  # what the scan could not see, per cause


class ProcessNamespace(WireStruct, frozen=True, kw_only=True):
    inode: int | None
    host: bool
    reason: str | UnsetType = UNSET  # why the link could not be read


class ProcessReport(Document, frozen=True, kw_only=True):
    kind: str = "ProcessReport"
    node: str
    pid: int
    ppid: int
    comm: str
    start_time: int
    cgroup: list[str]
    member_of: PodMember | None
    namespaces: dict[str, ProcessNamespace]
    host: HostReport
    errors: list[ScanErrorReport]
    process: ProcessFacts | UnsetType = UNSET  # when the process table could be read
