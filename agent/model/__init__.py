"""The in-memory model of a node: what a scan finds and what pairing concludes.

`vocabulary` holds the closed sets (namespace types, verdicts, runtimes, evidence, severities);
`snapshot` what one scan finds; `pods` what pairing concludes. Everything is re-exported here,
the one name the other layers import.
"""

from .pods import (
    Container,
    ContainerIdentity,
    Finding,
    Mismatch,
    NamespaceVerdict,
    Pod,
    PodIdentityKey,
    PodIntent,
    PodRef,
    Sandbox,
)
from .process_tree import PAUSE_COMMS, container_init_pid
from .snapshot import (
    HostReference,
    PinnedNamespace,
    Process,
    ScanError,
    Snapshot,
    errno_name,
)
from .vocabulary import (
    ALL_NS_TYPES,
    CHILD_NS_TYPES,
    HOST_SPEC_FIELDS,
    NODE_WIDE_TYPES,
    NS_TYPES,
    POD_SHARED_TYPES,
    SPEC_TYPES,
    Evidence,
    HostReferenceKind,
    NamespaceMode,
    Role,
    Runtime,
    SandboxProcess,
    ScanStage,
    Severity,
    Verdict,
)

__all__ = [
    "ALL_NS_TYPES",
    "CHILD_NS_TYPES",
    "HOST_SPEC_FIELDS",
    "NODE_WIDE_TYPES",
    "NS_TYPES",
    "PAUSE_COMMS",
    "POD_SHARED_TYPES",
    "SPEC_TYPES",
    "Container",
    "ContainerIdentity",
    "Evidence",
    "Finding",
    "HostReference",
    "HostReferenceKind",
    "Mismatch",
    "NamespaceMode",
    "NamespaceVerdict",
    "PinnedNamespace",
    "Pod",
    "PodIdentityKey",
    "PodIntent",
    "PodRef",
    "Process",
    "Role",
    "Runtime",
    "Sandbox",
    "SandboxProcess",
    "ScanError",
    "ScanStage",
    "Severity",
    "Snapshot",
    "Verdict",
    "container_init_pid",
    "errno_name",
]
