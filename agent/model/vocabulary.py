"""The domain's closed sets, written once: namespace types and the words nsinspect speaks.

Every value here is also a word of the `nsinspect/v1` documents, so each enum is a StrEnum whose
value is what the JSON says.
"""

from __future__ import annotations

from enum import StrEnum

# Display order: the ones a pod shares first, then the ones it keeps, then the node-wide ones.
NS_TYPES: tuple[str, ...] = ("net", "ipc", "uts", "pid", "mnt", "user", "cgroup", "time")
# Where a process's children will live; differs from `pid`/`time` after unshare(2) without fork.
CHILD_NS_TYPES: tuple[str, ...] = ("pid_for_children", "time_for_children")
ALL_NS_TYPES: tuple[str, ...] = NS_TYPES + CHILD_NS_TYPES
# What a sandbox holds for its app containers: the triple that makes a pod.
POD_SHARED_TYPES: tuple[str, ...] = ("net", "ipc", "uts")
# The types a pod spec speaks of (hostNetwork, hostIPC, hostPID, shareProcessNamespace; UTS
# follows the network).
SPEC_TYPES: tuple[str, ...] = ("net", "ipc", "uts", "pid")
# The node-wide types every ordinary pod shares with the node.
NODE_WIDE_TYPES: tuple[str, ...] = ("user", "cgroup", "time")
# The pod spec field that puts a pod in the node's namespace of a type.
HOST_SPEC_FIELDS: dict[str, str] = {
    "net": "hostNetwork",
    "ipc": "hostIPC",
    "pid": "hostPID",
    "uts": "hostNetwork",  # a hostNetwork pod has the node's hostname too
}


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


class Runtime(StrEnum):
    """Who runs a pod's containers."""

    CONTAINERD = "containerd"
    CRIO = "cri-o"
    DOCKER = "docker"  # through cri-dockerd
    PODMAN = "podman"
    CRI = "cri"  # a CRI runtime answering to a name nsinspect does not know
    UNKNOWN = "unknown"  # a kubelet pod known from its cgroups alone
    NONE = "none"  # processes grouped by their namespaces: no runtime describes them


class Evidence(StrEnum):
    """What decided who a pod and its containers are, strongest first."""

    CRI = "cri"  # the CRI API of a socket that answered
    OCI_CONFIG = "oci-config"  # the runtime's own records: OCI bundles, docker's, podman's
    CGROUP = "cgroup"  # kubelet's cgroup layout alone
    NAMESPACES = "namespaces"  # processes sharing a net+ipc+uts triple


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for the worst: the order findings are listed in."""
        return SEVERITY_RANK[self]


SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


class ScanStage(StrEnum):
    """Where in a scan something could not be read."""

    STAT = "stat"  # /proc/<pid>/stat: the process itself
    NS = "ns"  # its namespace links
    CGROUP = "cgroup"  # /proc/<pid>/cgroup
    MOUNTS = "mounts"  # the node's mount table (bind-mount pins)
    FDS = "fds"  # a runtime's fd table (fd pins)
    RUNTIME = "runtime"  # a runtime's state on disk
    CRI = "cri"  # a CRI socket
    HOST = "host"  # the node's own namespaces (the host reference)
    FINDINGS = "findings"  # a finding left unconcluded: what it rests on could not be read
    # The agent itself: its server answers from a scan that is stale (the scanner stopped or is
    # stuck), added to a document by the server, never by a scan.
    AGENT = "agent"


class NamespaceMode(StrEnum):
    """How a pod shares a namespace type, in CRI's words (runtime.v1 NamespaceMode)."""

    POD = "POD"  # the sandbox's
    CONTAINER = "CONTAINER"  # its own
    NODE = "NODE"  # the host's
    TARGET = "TARGET"  # another container's
    # Not a CRI mode: where the kernel shows a container in another pod's namespace.
    OTHER = "OTHER"


class HostReferenceKind(StrEnum):
    """Whose namespaces count as the node's own."""

    PID1 = "pid1"
    KTHREADD = "kthreadd"  # a kernel thread: always in the initial namespaces
    SELF = "self"  # the scanner's own, the last resort
    NONE = "none"


class LocationKind(StrEnum):
    """What a runtime location is."""

    CRI_SOCKET = "cri-socket"  # a CRI gRPC socket
    STATE_DIR = "state-dir"  # where the runtime keeps its containers' records on disk


class FoundBy(StrEnum):
    """How a runtime location was found, the most deliberate first."""

    FLAG = "flag"  # given by --cri-socket / --runtime-state
    PROCESS = "process"  # read from a runtime process's command line, config or cwd
    LAYOUT = "layout"  # a distribution's published layout, present on this node
    DEFAULT = "default"  # the runtime's own default path, present on this node


class NameSource(StrEnum):
    """Where a pod's or a container's names came from. Kept apart from `Evidence` (what
    grouped the pod): a pod grouped by its cgroups may be named by Kubernetes."""

    RUNTIME = "runtime"  # the runtime's own records or its CRI answer
    KUBERNETES = "kubernetes"  # the API server: pod uid -> name, status containerID -> name
    # Made up by nsinspect where nobody could name it: `pod<uid>`, a short container id, a
    # netns name or `net-<inode>`.
    PLACEHOLDER = "placeholder"
