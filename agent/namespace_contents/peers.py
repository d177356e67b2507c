"""Phase two: link a pod's interfaces to their other ends in the node's network namespace.

Each namespace was described alone (phase one); here the two descriptions meet. A veth end names
its peer by ifindex (IFLA_LINK) and by the id its own namespace gives the peer's namespace
(IFLA_LINK_NETNSID); those ids are per namespace, so the node's side is matched the other way
round too: the node's veth whose IFLA_LINK is the pod interface's index and whose
IFLA_LINK_NETNSID is the id the node gives the pod's namespace. Pure: tested without root.
"""

from __future__ import annotations

import msgspec
from msgspec.structs import replace

from .details import Interface, Master, NetnsView, Peer


class NodeSide(msgspec.Struct, frozen=True):
    """The node's namespace as phase one saw it, and how the two namespaces name each other."""

    view: NetnsView | None  # None when it could not be read
    ns_inode: int | None
    pod_nsid: int | None  # the id the node gives the pod's namespace
    node_nsid: int | None  # the id the pod's namespace gives the node's
    unavailable: str = ""  # why `view` is None
    nsid_missing: str = ""  # why `pod_nsid` is None


def may_have_peer(interface: Interface) -> bool:
    """veths, and, where the kind is unknown (read without entering), anything but loopback."""
    if interface.kind:
        return interface.kind == "veth" or interface.link_netnsid is not None
    return interface.name != "lo"


def _master(node: NetnsView, index: int | None) -> Master | None:
    for candidate in node.interfaces:
        if index is not None and candidate.index == index:
            return Master(candidate.name, candidate.kind)
    return None


def resolve_peer(interface: Interface, node: NodeSide) -> Peer:
    unresolved = Peer(interface.link_index, interface.link_netnsid)
    if node.view is None:
        return replace(unresolved, unresolved=node.unavailable)
    if (
        interface.link_netnsid is not None
        and node.node_nsid is not None
        and interface.link_netnsid != node.node_nsid
    ):
        return replace(
            unresolved,
            unresolved=f"the other end is in another network namespace (nsid "
            f"{interface.link_netnsid} as the pod names it), not the node's",
        )
    if node.pod_nsid is None and interface.link_index is None:
        return replace(
            unresolved,
            unresolved="telling the node's veths apart needs the id the node gives the pod's "
            f"namespace: {node.nsid_missing or 'unknown'}",
        )
    candidates = [
        theirs
        for theirs in node.view.interfaces
        if theirs.link_index == interface.index
        and theirs.link_netnsid is not None
        and (node.pod_nsid is None or theirs.link_netnsid == node.pod_nsid)
        and (interface.link_index is None or theirs.index == interface.link_index)
    ]
    if len(candidates) != 1:
        why = "no interface of the node's namespace" if not candidates else "several interfaces"
        return replace(unresolved, unresolved=f"{why} points back at it")
    theirs = candidates[0]
    return Peer(
        index=theirs.index,
        netnsid=interface.link_netnsid,
        name=theirs.name,
        namespace="host",
        ns_inode=node.ns_inode,
        master=_master(node.view, theirs.master_index),
    )


def link_peers(pod: NetnsView, node: NodeSide) -> tuple[Interface, ...]:
    return tuple(
        replace(interface, peer=resolve_peer(interface, node))
        if may_have_peer(interface)
        else interface
        for interface in pod.interfaces
    )
