"""What nsinspect sees inside a pod's shared namespaces: network, UTS and IPC.

In-memory types, as `agent/model`; `agent/report/build_details.py` turns them into the
PodReport's `network`, `uts` and `ipc` sections. Every section carries `unavailable`: detail name ->
the reason it could not be read (a missing capability, an errno), so a report made with fewer
privileges says what it lacks instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec


class Master(msgspec.Struct, frozen=True):
    """The device an interface is enslaved to (IFLA_MASTER): a bridge, usually."""

    name: str
    kind: str  # bridge, bond, openvswitch, ... ("" when the kernel does not say)


class Peer(msgspec.Struct, frozen=True):
    """The other end of a veth, as phase two resolved it."""

    index: int | None  # its ifindex, in its own namespace
    netnsid: int | None  # IFLA_LINK_NETNSID: the peer's namespace as the pod's namespace names it
    name: str = ""  # "" while unresolved
    namespace: str = ""  # "host" when the peer is in the node's network namespace
    ns_inode: int | None = None
    master: Master | None = None
    unresolved: str = ""  # why the name is not known


class Interface(msgspec.Struct, frozen=True):
    index: int | None
    name: str
    kind: str  # veth, loopback, bridge, ... ("" when unknown)
    state: str | None  # operstate: UP, DOWN, UNKNOWN; None when not readable
    mtu: int | None
    mac: str | None
    addresses: tuple[str, ...]  # CIDR notation
    # Phase one: what the namespace itself says about the other end.
    link_index: int | None = None  # IFLA_LINK
    link_netnsid: int | None = None  # IFLA_LINK_NETNSID
    master_index: int | None = None  # IFLA_MASTER
    # Phase two: the other end, resolved across namespaces.
    peer: Peer | None = None


class Route(msgspec.Struct, frozen=True):
    family: str  # ipv4, ipv6
    destination: str  # "default" or CIDR
    gateway: str | None
    interface: str | None


class NetnsView(msgspec.Struct, frozen=True):
    """Phase one: one network namespace described alone."""

    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...]
    read_via: str  # netlink (entered) or procfs (read from /proc/<pid>/net without entering)
    unavailable: Mapping[str, str] = msgspec.field(default_factory=dict)


class Owner(msgspec.Struct, frozen=True):
    """Who holds a socket: a container or the sandbox of this pod, another pod, the host."""

    kind: str  # container, sandbox, other-pod, host, unknown
    container: str = ""
    pod: str = ""  # the other pod's key, for other-pod
    pid: int | None = None
    process: str = ""  # comm
    reason: str = ""  # why unknown


class Listening(msgspec.Struct, frozen=True):
    protocol: str  # tcp, udp
    family: str  # ipv4, ipv6
    address: str
    port: int
    inode: int
    owner: Owner


class NetworkDetails(msgspec.Struct, frozen=True):
    ns_inode: int | None
    reader_pid: int | None  # the process whose /proc/<pid>/net and ns/net were read
    host_network: bool  # the pod's network namespace is the node's
    read_via: str  # how the interfaces were read: netlink or procfs
    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...]
    listening: tuple[Listening, ...]
    # App containers in this namespace, and those known to be outside it.
    members: tuple[str, ...] = ()
    outside: tuple[str, ...] = ()
    unavailable: Mapping[str, str] = msgspec.field(default_factory=dict)


class UtsDetails(msgspec.Struct, frozen=True):
    ns_inode: int | None
    hostname: str | None
    domainname: str | None
    matches_pod_name: bool | None
    unavailable: Mapping[str, str] = msgspec.field(default_factory=dict)


class IpcDetails(msgspec.Struct, frozen=True):
    ns_inode: int | None
    shm_segments: int | None
    semaphore_sets: int | None
    message_queues: int | None
    posix_message_queues: int | None
    posix_source: str = ""  # the mqueue mount the POSIX queues were counted in
    members: tuple[str, ...] = ()
    unavailable: Mapping[str, str] = msgspec.field(default_factory=dict)


class PodDetails(msgspec.Struct, frozen=True):
    network: NetworkDetails
    uts: UtsDetails
    ipc: IpcDetails
    seconds: Mapping[str, float] = msgspec.field(default_factory=dict)  # step -> how long it took
