"""Listening sockets and their owners, against sockets this test opens (fstat is the truth)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from nsinspect.agent.namespace_contents.sockets import (
    PodProcess,
    SocketEntry,
    attach_owners,
    find_owners,
    is_listening,
    missing_owner_reason,
    parse_socket_table,
    read_listening,
)

TCP6 = (
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 33483 1 000000004879a539 100 0 0 10 0\n"
    "   1: garbage\n"
)


def test_parse_a_tcp6_listener() -> None:
    [entry] = parse_socket_table(TCP6, "tcp", "ipv6")
    assert (entry.address, entry.port, entry.inode, entry.state) == ("::", 80, 33483, 0x0A)
    assert is_listening(entry)


@pytest.fixture
def own_sockets() -> Iterator[dict[str, socket.socket]]:
    opened = {
        "tcp4": socket.socket(socket.AF_INET, socket.SOCK_STREAM),
        "udp4": socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
        "tcp6": socket.socket(socket.AF_INET6, socket.SOCK_STREAM),
        "connected": socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
    }
    opened["tcp4"].bind(("127.0.0.1", 0))
    opened["tcp4"].listen()
    opened["udp4"].bind(("127.0.0.1", 0))
    opened["tcp6"].bind(("::1", 0))
    opened["tcp6"].listen()
    opened["connected"].connect(("127.0.0.1", 9))  # has a peer: not listening
    yield opened
    for sock in opened.values():
        sock.close()


def test_own_listeners_are_found_and_owned_by_this_process(
    own_sockets: dict[str, socket.socket],
) -> None:
    entries, errors = read_listening("/proc", os.getpid())
    assert errors == {}
    by_inode = {entry.inode: entry for entry in entries}
    for key, protocol, family in (
        ("tcp4", "tcp", "ipv4"),
        ("udp4", "udp", "ipv4"),
        ("tcp6", "tcp", "ipv6"),
    ):
        sock = own_sockets[key]
        entry = by_inode[os.fstat(sock.fileno()).st_ino]
        address, port = sock.getsockname()[:2]
        assert (entry.protocol, entry.family, entry.address, entry.port) == (
            protocol,
            family,
            address,
            port,
        )
    assert os.fstat(own_sockets["connected"].fileno()).st_ino not in by_inode

    me = PodProcess(os.getpid(), "container", container="tester", process="python")
    stranger = PodProcess(1, "host")
    owners, _ = find_owners("/proc", set(by_inode), [[me], [stranger]])
    mine = {os.fstat(s.fileno()).st_ino for k, s in own_sockets.items() if k != "connected"}
    assert {inode for inode, owner in owners.items() if owner == me} == mine


def test_the_search_stops_once_every_socket_has_an_owner() -> None:
    me = PodProcess(os.getpid(), "container", container="tester")
    never = PodProcess(999_999_999, "host")  # would be an unreadable pid if it were tried
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        inode = os.fstat(sock.fileno()).st_ino
        owners, unreadable = find_owners("/proc", {inode}, [[me], [never]])
    assert owners == {inode: me}
    assert unreadable == {}


def test_owner_unknown_says_why() -> None:
    entry = SocketEntry("tcp", "ipv4", "0.0.0.0", 80, 0x0A, 0, 42)
    reason = missing_owner_reason({10: "EACCES", 11: "EACCES"}, ptrace_held=False)
    [record] = attach_owners([entry], {}, reason)
    assert record.owner.kind == "unknown"
    assert "2 processes" in record.owner.reason and "CAP_SYS_PTRACE" in record.owner.reason
    assert "CAP_SYS_PTRACE" not in missing_owner_reason({10: "EACCES"}, ptrace_held=True)
    assert missing_owner_reason({}, ptrace_held=True).startswith("no process")
