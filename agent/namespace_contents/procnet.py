"""Phase one without entering: a network namespace as `/proc/<pid>/net/*` shows it.

Used when nsinspect may not enter the namespace (no CAP_SYS_ADMIN). These files describe the
namespace of the process named in the path and are readable without privileges, but they show
less than netlink: interface names (`dev`), indexes (`igmp`, `if_inet6`), IPv6 addresses
(`if_inet6`), IPv4 addresses (the LOCAL host entries of `fib_trie`, tied to an interface through
the connected routes of `route`), and routes (`route`, `ipv6_route`). State, MTU, MAC address and
the veth peer index are not there.

The tables are the kernel's, but the names in them are the container's: every parser skips a line
it cannot read rather than fail, and every file is read up to a cap.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from ..model import errno_name
from ..model.bounded_read import read_capped
from .details import Interface, NetnsView, Route

FILES = ("dev", "igmp", "if_inet6", "fib_trie", "route", "ipv6_route")
RTF_UP = 0x1
RTF_GATEWAY = 0x2
RTF_REJECT = 0x200
RTF_LOCAL = 0x80000000
# ~150 bytes a line: some 100,000 routes or sockets. A namespace holding more (a full BGP table)
# has that table reported unavailable rather than the agent's memory limit reached.
NET_TABLE_CAP = 16 << 20
ADDRESS_BYTES = {"ipv4": 4, "ipv6": 16}


def decode_address(hex_address: str, family: str) -> str:
    """`0100007F` -> 127.0.0.1, as the socket tables and `net/route` print addresses: each
    32-bit word in host byte order. Raises ValueError for anything else."""
    printed = bytes.fromhex(hex_address)
    if len(printed) != ADDRESS_BYTES[family]:
        raise ValueError(f"not an {family} address: {hex_address!r}")
    words = struct.unpack(f">{len(printed) // 4}I", printed)
    packed = struct.pack(f"={len(words)}I", *words)
    return socket.inet_ntop(socket.AF_INET if family == "ipv4" else socket.AF_INET6, packed)


def plain_ipv6(hex_address: str) -> str:
    """An address as `if_inet6` and `ipv6_route` print it: 32 hex digits, network order."""
    return str(ipaddress.IPv6Address(bytes.fromhex(hex_address)))


def parse_dev(text: str) -> list[str]:
    """Interface names from `net/dev` (two header lines, then `name: counters`)."""
    return [line.split(":", 1)[0].strip() for line in text.splitlines()[2:] if ":" in line]


def parse_igmp(text: str) -> dict[str, int]:
    """name -> ifindex, from the `Idx Device : ...` lines of `net/igmp`."""
    indexes = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        # `<index>\t<name> : ...`: an index is a 32-bit number, ten digits at most.
        if len(fields) >= 2 and fields[0].isascii() and fields[0].isdigit() and len(fields[0]) < 11:
            indexes[fields[1].rstrip(":")] = int(fields[0])
    return indexes


def parse_if_inet6(text: str) -> list[tuple[str, int, str]]:
    """(name, ifindex, address/prefix) for each line of `net/if_inet6`."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 6:
            continue
        try:
            found.append(
                (fields[5], int(fields[1], 16), f"{plain_ipv6(fields[0])}/{int(fields[2], 16)}")
            )
        except ValueError:
            continue
    return found


def parse_fib_trie_locals(text: str) -> list[str]:
    """The node's own IPv4 addresses: leaves of `net/fib_trie` marked `/32 host LOCAL`."""
    addresses: list[str] = []
    leaf = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|--"):
            leaf = stripped[3:].strip()
        elif stripped.startswith("/32 host LOCAL") and leaf and leaf not in addresses:
            try:
                addresses.append(str(ipaddress.IPv4Address(leaf)))
            except ValueError:
                continue
    return addresses


def parse_route(text: str) -> list[tuple[Route, int, str]]:
    """IPv4 routes of `net/route`, each with its flags and, for a connected route, its CIDR."""
    routes = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            flags = int(fields[3], 16)
            destination = decode_address(fields[1], "ipv4")
            prefix = bin(int.from_bytes(bytes.fromhex(fields[7]))).count("1")
            gateway = decode_address(fields[2], "ipv4") if flags & RTF_GATEWAY else None
        except ValueError:
            continue
        if prefix > 32:
            continue
        cidr = f"{destination}/{prefix}"
        shown = "default" if prefix == 0 else cidr
        routes.append((Route("ipv4", shown, gateway, fields[0]), flags, cidr))
    return routes


def parse_ipv6_route(text: str) -> list[Route]:
    """Unicast IPv6 routes of `net/ipv6_route` (it mixes the local table in: those are dropped)."""
    routes = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 10:
            continue
        try:
            flags = int(fields[8], 16)
            destination = plain_ipv6(fields[0])
            prefix = int(fields[1], 16)
            gateway = plain_ipv6(fields[4])
        except ValueError:
            continue
        if not flags & RTF_UP or flags & (RTF_REJECT | RTF_LOCAL) or destination.startswith("ff"):
            continue
        routes.append(
            Route(
                "ipv6",
                "default" if prefix == 0 else f"{destination}/{prefix}",
                None if gateway == "::" else gateway,
                fields[9],
            )
        )
    return routes


def assign_ipv4(addresses: list[str], connected: list[tuple[str, str]]) -> dict[str, list[str]]:
    """interface -> CIDRs: each address goes to the longest connected route that contains it."""
    by_interface: dict[str, list[str]] = {}
    networks = [(ipaddress.IPv4Network(cidr, strict=False), name) for cidr, name in connected]
    for address in addresses:
        ip = ipaddress.IPv4Address(address)
        matches = [(net, name) for net, name in networks if ip in net]
        if matches:
            net, name = max(matches, key=lambda match: match[0].prefixlen)
            by_interface.setdefault(name, []).append(f"{address}/{net.prefixlen}")
        elif ip.is_loopback:
            by_interface.setdefault("lo", []).append(f"{address}/8")
    return by_interface


def procfs_view(proc_root: str, pid: int, why_not_entered: str) -> NetnsView:
    texts: dict[str, str] = {}
    missing = f"{why_not_entered} (/proc/<pid>/net, read instead, does not show them)"
    unavailable = {"state": missing, "mtu": missing, "mac": missing}
    for name in FILES:
        try:
            table = read_capped(f"{proc_root}/{pid}/net/{name}", NET_TABLE_CAP)
            texts[name] = table.decode("ascii", "replace")
        except OSError as exc:
            texts[name] = ""
            unavailable[name] = f"{proc_root}/{pid}/net/{name}: {errno_name(exc)}"
    indexes = parse_igmp(texts["igmp"])
    ipv6: dict[str, list[str]] = {}
    for name, index, cidr in parse_if_inet6(texts["if_inet6"]):
        indexes.setdefault(name, index)
        ipv6.setdefault(name, []).append(cidr)
    ipv4_routes = parse_route(texts["route"])
    connected = [
        (cidr, r.interface or "") for r, flags, cidr in ipv4_routes if not flags & RTF_GATEWAY
    ]
    ipv4 = assign_ipv4(parse_fib_trie_locals(texts["fib_trie"]), connected)
    interfaces = tuple(
        Interface(
            index=indexes.get(name),
            name=name,
            kind="loopback" if name == "lo" else "",
            state=None,
            mtu=None,
            mac=None,
            addresses=tuple(ipv4.get(name, []) + ipv6.get(name, [])),
        )
        for name in parse_dev(texts["dev"])
    )
    routes = tuple(r for r, flags, _ in ipv4_routes if flags & RTF_UP)
    routes += tuple(parse_ipv6_route(texts["ipv6_route"]))
    return NetnsView(interfaces, routes, "procfs", unavailable)
