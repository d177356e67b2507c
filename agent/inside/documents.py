"""The PodReport's `network`, `uts` and `ipc` sections (`nsinspect/v1`), built from PodDetails.

Part of the same contract as `agent/documents.py`, which merges these sections into a PodReport
when details were collected. Fields may be added; these keep their names and meaning. A value
that could not be read is null, and the section's `unavailable` says why (detail -> reason).
"""

from __future__ import annotations

from typing import Any

from nsinspect.agent.inside.model import (
    Interface,
    IpcDetails,
    Listening,
    NetworkDetails,
    Peer,
    PodDetails,
    Route,
    UtsDetails,
)

Document = dict[str, Any]


def _peer_document(peer: Peer) -> Document:
    document: Document = {
        "index": peer.index,
        "netnsid": peer.netnsid,
        "name": peer.name or None,
        "namespace": peer.namespace or None,
        "ns_inode": peer.ns_inode,
        "master": None
        if peer.master is None
        else {"name": peer.master.name, "kind": peer.master.kind},
    }
    if peer.unresolved:
        document["unresolved"] = peer.unresolved
    return document


def _interface_document(interface: Interface) -> Document:
    return {
        "index": interface.index,
        "name": interface.name,
        "kind": interface.kind or None,
        "state": interface.state,
        "mtu": interface.mtu,
        "mac": interface.mac,
        "addresses": list(interface.addresses),
        "peer": None if interface.peer is None else _peer_document(interface.peer),
    }


def _route_document(route: Route) -> Document:
    return {
        "family": route.family,
        "destination": route.destination,
        "gateway": route.gateway,
        "interface": route.interface,
    }


def _listening_document(listening: Listening) -> Document:
    owner = listening.owner
    document: Document = {
        "protocol": listening.protocol,
        "family": listening.family,
        "address": listening.address,
        "port": listening.port,
        "inode": listening.inode,
        "owner": owner.kind,
        "container": owner.container or None,
        "pod": owner.pod or None,
        "pid": owner.pid,
        "process": owner.process or None,
    }
    if owner.reason:
        document["reason"] = owner.reason
    return document


def network_document(network: NetworkDetails) -> Document:
    return {
        "ns_inode": network.ns_inode,
        "read_from_pid": network.reader_pid,
        "host_network": network.host_network,
        "source": network.source or None,
        "containers": list(network.members),
        "containers_outside": list(network.outside),
        "interfaces": [_interface_document(i) for i in network.interfaces],
        "routes": [_route_document(r) for r in network.routes],
        "listening": [_listening_document(entry) for entry in network.listening],
        "unavailable": dict(network.unavailable),
    }


def uts_document(details: UtsDetails) -> Document:
    return {
        "ns_inode": details.ns_inode,
        "hostname": details.hostname,
        "domainname": details.domainname,
        "matches_pod_name": details.matches_pod_name,
        "unavailable": dict(details.unavailable),
    }


def ipc_document(details: IpcDetails) -> Document:
    return {
        "ns_inode": details.ns_inode,
        "containers": list(details.members),
        "shm_segments": details.shm_segments,
        "semaphore_sets": details.semaphore_sets,
        "message_queues": details.message_queues,
        "posix_message_queues": details.posix_message_queues,
        "posix_source": details.posix_source or None,
        "unavailable": dict(details.unavailable),
    }


def details_sections(details: PodDetails) -> Document:
    """The sections a PodReport gains when its details were collected."""
    return {
        "network": network_document(details.network),
        "uts": uts_document(details.uts),
        "ipc": ipc_document(details.ipc),
    }
