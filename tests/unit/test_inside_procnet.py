"""Reading a network namespace from /proc/<pid>/net without entering it: the parsers."""

from __future__ import annotations

import ipaddress
import socket

from nsinspect.agent.namespace_contents.procnet import (
    assign_ipv4,
    decode_address,
    parse_dev,
    parse_fib_trie_locals,
    parse_if_inet6,
    parse_igmp,
    parse_ipv6_route,
    parse_route,
    plain_ipv6,
)

# Captured from a podman pod on this machine kind (Debian 12, kernel 6.x).
DEV = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
    "    lo:       0       0    0    0    0     0          0         0        0       0\n"
    "  eth0:    4204      44    0    0    0     0          0         0      796      10\n"
)  # (transmit columns cut short)
IGMP = """Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter
1\tlo        :     1      V3
\t\t\t\t010000E0     1 0:00000000\t\t0
2\teth0      :     1      V3
\t\t\t\t010000E0     1 0:00000000\t\t0
"""
IF_INET6 = """fe8000000000000010b62dfffe58c550 02 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
"""
ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0100590A\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0000590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""
IPV6_ROUTE = (
    "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
    "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n"
    "ff000000000000000000000000000000 08 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000004 00000000 00000001     eth0\n"
)
FIB_TRIE = """Main:
  +-- 0.0.0.0/1 2 0 2
     +-- 0.0.0.0/4 2 0 2
        |-- 0.0.0.0
           /0 universe UNICAST
        +-- 10.89.0.0/24 2 0 2
           +-- 10.89.0.0/29 2 0 2
              |-- 10.89.0.0
                 /24 link UNICAST
              |-- 10.89.0.4
                 /32 host LOCAL
           |-- 10.89.0.255
              /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
Local:
  +-- 0.0.0.0/1 2 0 2
              |-- 10.89.0.4
                 /32 host LOCAL
"""


def test_socket_table_addresses_are_words_in_host_order() -> None:
    # The truth: what the kernel would print for these addresses, built with the socket module.
    packed = socket.inet_aton("10.89.0.1")
    assert decode_address(f"{int.from_bytes(packed, 'little'):08X}", "ipv4") == "10.89.0.1"
    assert decode_address("0100007F", "ipv4") == "127.0.0.1"
    v6 = socket.inet_pton(socket.AF_INET6, "fe80::1")
    words = "".join(f"{int.from_bytes(v6[i : i + 4], 'little'):08X}" for i in range(0, 16, 4))
    assert decode_address(words, "ipv6") == "fe80::1"
    assert plain_ipv6(v6.hex()) == "fe80::1"


def test_interfaces_and_indexes() -> None:
    assert parse_dev(DEV) == ["lo", "eth0"]
    assert parse_igmp(IGMP) == {"lo": 1, "eth0": 2}
    assert parse_if_inet6(IF_INET6) == [
        ("eth0", 2, "fe80::10b6:2dff:fe58:c550/64"),
        ("lo", 1, "::1/128"),
    ]


def test_ipv4_addresses_come_from_local_leaves_and_connected_routes() -> None:
    assert parse_fib_trie_locals(FIB_TRIE) == ["10.89.0.4", "127.0.0.1"]
    routes = parse_route(ROUTE)
    assert [(r.destination, r.gateway, r.interface) for r, _, _ in routes] == [
        ("default", "10.89.0.1", "eth0"),
        ("10.89.0.0/24", None, "eth0"),
    ]
    connected = [(cidr, r.interface or "") for r, flags, cidr in routes if not flags & 2]
    assigned = assign_ipv4(parse_fib_trie_locals(FIB_TRIE), connected)
    assert assigned == {"eth0": ["10.89.0.4/24"], "lo": ["127.0.0.1/8"]}
    assert ipaddress.ip_interface(assigned["eth0"][0]).network == ipaddress.ip_network(
        "10.89.0.0/24"
    )


def test_ipv6_routes_leave_out_the_local_table_and_multicast() -> None:
    routes = parse_ipv6_route(IPV6_ROUTE)
    assert [(r.destination, r.gateway, r.interface) for r in routes] == [
        ("fe80::/64", None, "eth0")
    ]
