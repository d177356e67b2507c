"""Phase one with netlink: a network namespace's interfaces, addresses and routes, described alone.

The namespace is entered by path (`<proc root>/<pid>/ns/net`) with pyroute2's `NetNS`, which forks
a helper that joins the namespace, opens a netlink socket there and hands it back: the agent's own
threads never switch namespaces. Entering needs CAP_SYS_ADMIN; the namespace nsinspect itself is
in (the node's, for an agent on the host network) is read with a plain `IPRoute`, which needs
nothing. `flags=0` matters: pyroute2's default would create (mount) a namespace at a missing path,
and nsinspect never writes on a node.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2.iproute import IPRoute, NetNS  # the same classes as pyroute2's own namespace

from .details import Interface, NetnsView, Route

IFF_LOOPBACK = 0x8
MAIN_TABLE = 254
RTN_UNICAST = 1
FAMILIES = {2: "ipv4", 10: "ipv6"}
NSID_NOT_ASSIGNED = -1


@contextmanager
def rtnl_session(ns_path: str, own_namespace: bool) -> Iterator[Any]:
    """A netlink session in the namespace at `ns_path`; entered only when it is not our own."""
    session = IPRoute() if own_namespace else NetNS(ns_path, flags=0)
    try:
        yield session
    finally:
        session.close()


def _interface(link: Any, addresses: list[str]) -> Interface:
    kind = link.get(("IFLA_LINKINFO", "IFLA_INFO_KIND")) or ""
    if not kind and link["flags"] & IFF_LOOPBACK:
        kind = "loopback"
    return Interface(
        index=link["index"],
        name=link.get("ifname") or "",
        kind=kind,
        state=link.get("operstate"),
        mtu=link.get("mtu"),
        mac=link.get("address"),
        addresses=tuple(addresses),
        link_index=link.get("link"),
        link_netnsid=link.get("IFLA_LINK_NETNSID"),
        master_index=link.get("master"),
    )


def _route(route: Any, names: dict[int, str]) -> Route:
    destination = route.get("dst")
    oif = route.get("oif")
    return Route(
        family=FAMILIES.get(route["family"], str(route["family"])),
        destination="default" if destination is None else f"{destination}/{route['dst_len']}",
        gateway=route.get("gateway"),
        interface=names.get(oif) if oif is not None else None,
    )


def describe(session: Any) -> NetnsView:
    """Interfaces with their addresses, and the main table's unicast routes."""
    addresses: dict[int, list[str]] = defaultdict(list)
    for address in session.get_addr():
        local = address.get("local") or address.get("address")
        addresses[address["index"]].append(f"{local}/{address['prefixlen']}")
    links = sorted(session.get_links(), key=lambda link: link["index"])
    interfaces = tuple(_interface(link, addresses[link["index"]]) for link in links)
    names = {i.index: i.name for i in interfaces if i.index is not None}
    routes = tuple(
        _route(route, names)
        for route in session.get_routes()
        if (route.get("table") or route["table"]) == MAIN_TABLE and route["type"] == RTN_UNICAST
    )
    return NetnsView(interfaces, routes, "netlink")


def nsid_of(session: Any, ns_path: str) -> int | None:
    """The id the session's namespace gives the namespace at `ns_path` (as IFLA_LINK_NETNSID
    names it), or None when it gives none. The fd is ours: the kernel resolves NETNSA_FD in the
    sending process, and the session's socket was handed to this process."""
    fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        reply = session.get_netnsid(fd=fd)
    finally:
        os.close(fd)
    nsid = None if reply is None else reply.get("nsid")
    if nsid is None or nsid == NSID_NOT_ASSIGNED or nsid >= 2**31:
        return None
    return int(nsid)
