"""Phase two: which interface of the node is the other end of a pod's veth."""

from __future__ import annotations

from nsinspect.agent.namespace_contents.details import Interface, Master, NetnsView
from nsinspect.agent.namespace_contents.peers import NodeSide, link_peers


def iface(
    index: int,
    name: str,
    kind: str = "veth",
    *,
    link_index: int | None = None,
    link_netnsid: int | None = None,
    master_index: int | None = None,
) -> Interface:
    return Interface(
        index,
        name,
        kind,
        "UP",
        1500,
        "aa:bb:cc:dd:ee:ff",
        (),
        link_index,
        link_netnsid,
        master_index,
    )


POD = NetnsView(
    (iface(1, "lo", "loopback"), iface(2, "eth0", link_index=24, link_netnsid=0)), (), "netlink"
)
# Two pods' veths on the node both point at an ifindex 2 (every pod's eth0 is index 2): only the
# namespace id tells them apart.
NODE = NetnsView(
    (
        iface(5, "podman1", "bridge"),
        iface(7, "cni0", "bridge"),
        iface(8, "veth1", link_index=2, link_netnsid=1, master_index=7),
        iface(24, "veth2", link_index=2, link_netnsid=0, master_index=5),
    ),
    (),
    "netlink",
)


def peer_of(pod: NetnsView, node: NodeSide) -> Interface:
    return next(i for i in link_peers(pod, node) if i.name == "eth0")


def test_resolved_by_index_and_namespace_id() -> None:
    eth0 = peer_of(POD, NodeSide(NODE, 4026531833, pod_nsid=0, node_nsid=0))
    assert eth0.peer is not None
    assert (eth0.peer.name, eth0.peer.index, eth0.peer.namespace) == ("veth2", 24, "host")
    assert eth0.peer.master == Master("podman1", "bridge")
    lo = next(i for i in link_peers(POD, NodeSide(NODE, 1, 0, 0)) if i.name == "lo")
    assert lo.peer is None


def test_without_the_pod_side_link_the_namespace_id_decides() -> None:
    # Read without entering (procfs): the pod side knows its index, not its peer's.
    bare = NetnsView((iface(2, "eth0", ""),), (), "procfs")
    eth0 = peer_of(bare, NodeSide(NODE, 1, pod_nsid=1, node_nsid=None))
    assert eth0.peer is not None and eth0.peer.name == "veth1"
    unknown = peer_of(bare, NodeSide(NODE, 1, None, None, nsid_missing="EACCES"))
    assert unknown.peer is not None and unknown.peer.name == ""
    assert "EACCES" in unknown.peer.unresolved


def test_a_peer_in_another_namespace_is_not_mistaken_for_the_nodes() -> None:
    eth0 = peer_of(POD, NodeSide(NODE, 1, pod_nsid=0, node_nsid=3))
    assert eth0.peer is not None and eth0.peer.name == ""
    assert "another network namespace" in eth0.peer.unresolved


def test_node_unreadable() -> None:
    eth0 = peer_of(POD, NodeSide(None, 1, None, None, unavailable="needs CAP_SYS_ADMIN"))
    assert eth0.peer is not None
    assert (eth0.peer.index, eth0.peer.unresolved) == (24, "needs CAP_SYS_ADMIN")
