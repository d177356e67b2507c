"""The PodReport's `network`, `uts` and `ipc` sections, from what was collected inside."""

from __future__ import annotations

from msgspec import UNSET

from ..namespace_contents.details import (
    Interface,
    IpcDetails,
    Listening,
    NetworkDetails,
    Peer,
    UtsDetails,
)
from .details import (
    InterfaceReport,
    IpcReport,
    ListeningReport,
    MasterReport,
    NetworkReport,
    PeerReport,
    RouteReport,
    SocketOwner,
    UtsReport,
)


def _peer_report(peer: Peer) -> PeerReport:
    master = peer.master
    return PeerReport(
        index=peer.index,
        netnsid=peer.netnsid,
        name=peer.name or None,
        namespace=peer.namespace or None,
        ns_inode=peer.ns_inode,
        master=None if master is None else MasterReport(name=master.name, kind=master.kind),
        unresolved=peer.unresolved or UNSET,
    )


def _interface_report(interface: Interface) -> InterfaceReport:
    return InterfaceReport(
        index=interface.index,
        name=interface.name,
        kind=interface.kind or None,
        state=interface.state,
        mtu=interface.mtu,
        mac=interface.mac,
        addresses=list(interface.addresses),
        peer=None if interface.peer is None else _peer_report(interface.peer),
    )


def _listening_report(listening: Listening) -> ListeningReport:
    owner = listening.owner
    return ListeningReport(
        protocol=listening.protocol,
        family=listening.family,
        address=listening.address,
        port=listening.port,
        inode=listening.inode,
        owner=SocketOwner(owner.kind),
        container=owner.container or None,
        pod=owner.pod or None,
        pid=owner.pid,
        process=owner.process or None,
        reason=owner.reason or UNSET,
    )


def network_report(network: NetworkDetails) -> NetworkReport:
    return NetworkReport(
        ns_inode=network.ns_inode,
        read_from_pid=network.reader_pid,
        host_network=network.host_network,
        source=network.read_via or None,
        containers=list(network.members),
        containers_outside=list(network.outside),
        interfaces=[_interface_report(i) for i in network.interfaces],
        routes=[
            RouteReport(
                family=r.family, destination=r.destination, gateway=r.gateway, interface=r.interface
            )
            for r in network.routes
        ],
        listening=[_listening_report(entry) for entry in network.listening],
        unavailable=dict(network.unavailable),
    )


def uts_report(uts: UtsDetails) -> UtsReport:
    return UtsReport(
        ns_inode=uts.ns_inode,
        hostname=uts.hostname,
        domainname=uts.domainname,
        matches_pod_name=uts.matches_pod_name,
        unavailable=dict(uts.unavailable),
    )


def ipc_report(ipc: IpcDetails) -> IpcReport:
    return IpcReport(
        ns_inode=ipc.ns_inode,
        containers=list(ipc.members),
        shm_segments=ipc.shm_segments,
        semaphore_sets=ipc.semaphore_sets,
        message_queues=ipc.message_queues,
        posix_message_queues=ipc.posix_message_queues,
        posix_source=ipc.posix_source or None,
        unavailable=dict(ipc.unavailable),
    )
