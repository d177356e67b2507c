"""The PodReport's `network`, `uts` and `ipc` sections: what is inside the shared namespaces.

A value that could not be read is null, and the section's `unavailable` says why (detail ->
reason), so a report made with fewer privileges says what it lacks instead of failing.
"""

from __future__ import annotations

from enum import StrEnum

from msgspec import UNSET, UnsetType

from .wire import WireStruct


class SocketOwner(StrEnum):
    """Who holds a listening socket."""

    CONTAINER = "container"  # an app container of this pod
    SANDBOX = "sandbox"  # this pod's sandbox
    OTHER_POD = "other-pod"  # another pod in the same network namespace
    HOST = "host"  # the node itself (a hostNetwork pod's namespace is the node's)
    OUTSIDE = "outside"  # a process in the namespace that belongs to no pod
    UNKNOWN = "unknown"


class MasterReport(WireStruct, frozen=True, kw_only=True):
    """The device an interface is enslaved to: a bridge, usually."""

    name: str
    kind: str


class PeerReport(WireStruct, frozen=True, kw_only=True):
    """The other end of a veth."""

    index: int | None
    netnsid: int | None
    name: str | None  # null while unresolved
    namespace: str | None  # "host" for the node's network namespace
    ns_inode: int | None
    master: MasterReport | None
    unresolved: str | UnsetType = UNSET  # why the name is not known


class InterfaceReport(WireStruct, frozen=True, kw_only=True):
    index: int | None
    name: str
    kind: str | None
    state: str | None  # operstate: UP, DOWN, UNKNOWN
    mtu: int | None
    mac: str | None
    addresses: list[str]  # CIDR notation
    peer: PeerReport | None


class RouteReport(WireStruct, frozen=True, kw_only=True):
    family: str  # ipv4, ipv6
    destination: str  # "default" or CIDR
    gateway: str | None
    interface: str | None


class ListeningReport(WireStruct, frozen=True, kw_only=True):
    protocol: str  # tcp, udp
    family: str  # ipv4, ipv6
    address: str
    port: int
    inode: int
    owner: SocketOwner
    container: str | None
    pod: str | None  # the other pod's key, for other-pod
    pid: int | None
    process: str | None  # comm
    reason: str | UnsetType = UNSET  # why the owner is unknown


class NetworkReport(WireStruct, frozen=True, kw_only=True):
    ns_inode: int | None
    read_from_pid: int | None
    host_network: bool
    source: str | None  # netlink (entered) or procfs (read without entering)
    containers: list[str]  # app containers in this namespace
    containers_outside: list[str]  # those known to be outside it
    interfaces: list[InterfaceReport]
    routes: list[RouteReport]
    listening: list[ListeningReport]
    unavailable: dict[str, str]


class UtsReport(WireStruct, frozen=True, kw_only=True):
    ns_inode: int | None
    hostname: str | None
    domainname: str | None
    matches_pod_name: bool | None
    unavailable: dict[str, str]


class IpcReport(WireStruct, frozen=True, kw_only=True):
    ns_inode: int | None
    containers: list[str]
    shm_segments: int | None
    semaphore_sets: int | None
    message_queues: int | None
    posix_message_queues: int | None
    posix_source: str | None  # the mqueue mount the POSIX queues were counted in
    unavailable: dict[str, str]
