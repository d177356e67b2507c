"""The Network, Listening, UTS and IPC sections of the pod report.

Drawn from the report alone (as the rest of the table), so a remote report renders the same.
The Listening sentences say what the seed example teaches: a port one container listens on in the
pod's network namespace is reachable from every container of the pod at localhost.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from msgspec import UnsetType

from ..agent.report import (
    IpcReport,
    ListeningReport,
    NetworkReport,
    PeerReport,
    PodReport,
    SocketOwner,
    UtsReport,
    Verdict,
    value_or,
)
from .summary import join_words
from .table import dash, format_table

LABEL = "{:<11}"


def _unavailable_lines(unavailable: Mapping[str, str]) -> list[str]:
    """One line per reason, naming the details it cost."""
    by_reason: dict[str, list[str]] = {}
    for detail, reason in unavailable.items():
        by_reason.setdefault(reason, []).append(detail)
    return [
        f"  unavailable: {join_words(details)}: {reason}" for reason, details in by_reason.items()
    ]


def _peer_cell(peer: PeerReport | None) -> str:
    if peer is None:
        return "-"
    if not peer.name:
        return f"unresolved ({value_or(peer.unresolved, '?')})"
    where = "the node" if peer.namespace == "host" else f"netns {peer.ns_inode}"
    cell = f"{peer.name} on {where} (ifindex {peer.index})"
    master = peer.master
    if master:
        cell += f", in {master.kind or 'master'} {master.name}"
    return cell


def network_lines(network: NetworkReport) -> list[str]:
    inode = network.ns_inode
    where = f"net:[{inode}]" if inode is not None else "net namespace (inode unreadable)"
    if network.host_network:
        where += ", the node's own (hostNetwork)"
    source = network.source
    how = f"; read via {source} from pid {network.read_from_pid}" if source else ""
    lines = ["", LABEL.format("Network:") + where + how]
    rows = [
        [
            interface.name,
            dash(interface.kind),
            dash(interface.state),
            dash(interface.mtu),
            dash(interface.mac),
            ", ".join(interface.addresses) or "-",
            _peer_cell(interface.peer),
        ]
        for interface in network.interfaces
    ]
    if rows:
        headers = ["INTERFACE", "KIND", "STATE", "MTU", "MAC", "ADDRESSES", "PEER"]
        lines.extend(format_table(headers, rows, indent="  "))
    routes = [
        [route.destination, dash(route.gateway), dash(route.interface)] for route in network.routes
    ]
    if routes:
        lines.append("")
        lines.extend(format_table(["ROUTE", "VIA", "DEV"], routes, indent="  "))
    lines.extend(_unavailable_lines(network.unavailable))
    return lines


def _endpoint(address: str, port: int, family: str) -> str:
    return f"[{address}]:{port}" if family == "ipv6" else f"{address}:{port}"


def _owner_phrase(entry: ListeningReport) -> str:
    process = f"{entry.process or '?'}, pid {entry.pid}"
    owner = entry.owner
    if owner is SocketOwner.CONTAINER:
        return f"{entry.container} ({process})"
    if owner is SocketOwner.SANDBOX:
        return f"the pod's sandbox ({process})"
    if owner is SocketOwner.OTHER_POD:
        return f"another pod, {entry.pod} ({process})"
    if owner is SocketOwner.HOST:
        return f"the node itself, no pod ({process})"
    if owner is SocketOwner.OUTSIDE:
        return f"a process outside any pod ({process})"
    return f"owner unknown: {value_or(entry.reason, 'not found')}"


def _reach_sentence(entry: ListeningReport, network: NetworkReport, containers: list[str]) -> str:
    address = ipaddress.ip_address(entry.address)
    port = entry.port
    if not (address.is_unspecified or address.is_loopback):
        at = _endpoint(entry.address, port, entry.family)
        return f"Containers in this network namespace reach it at {at}, not at localhost."
    loopback_v6 = address.is_loopback and address.version == 6
    at = f"[::1]:{port}" if loopback_v6 else f"localhost:{port}"
    if address.is_loopback and str(address) not in ("127.0.0.1", "::1"):
        at = f"{entry.address}:{port}"
    members, outside = network.containers, network.containers_outside
    if network.host_network:
        return f"Every container of this pod reaches it at {at}, and so does the whole node."
    if outside:
        reach = f"{join_words(members)} reach{'es' if len(members) == 1 else ''} it at {at}"
        if not members:
            reach = f"Only the pod's sandbox reaches it at {at}"
        own = (
            "do not, each in a network namespace of its own"
            if len(outside) > 1
            else ("does not, in a network namespace of its own")
        )
        return f"{reach}; {join_words(outside)} {own}."
    if containers and sorted(members) == sorted(containers):
        return f"Every container of this pod reaches it at {at}."
    return f"Containers in this pod's network namespace reach it at {at}."


def listening_sentences(report: PodReport) -> list[str]:
    network = report.network
    if isinstance(network, UnsetType):
        return []
    containers = [c.name for c in report.containers]
    sentences = []
    for entry in network.listening:
        endpoint = _endpoint(entry.address, entry.port, entry.family)
        sentences.append(
            f"{endpoint}/{entry.protocol} — {_owner_phrase(entry)}. "
            f"{_reach_sentence(entry, network, containers)}"
        )
    return sentences


def _shared_by(report: PodReport, ns_type: str) -> str:
    entries = [(c.name, c.namespaces.get(ns_type)) for c in report.containers]
    names = [name for name, entry in entries if entry is not None and entry.shared_with_sandbox]
    if names:
        return f"; shared by {join_words(names)}"
    if any(entry is None or entry.verdict is Verdict.UNKNOWN for _, entry in entries):
        return ""
    return "; no app container is in it"


def uts_lines(report: PodReport, uts: UtsReport) -> list[str]:
    inode = f"uts:[{uts.ns_inode}]  " if uts.ns_inode is not None else ""
    if uts.hostname is None:
        lines = ["", LABEL.format("UTS:") + f"{inode}hostname unknown"]
    else:
        lines = [
            "",
            LABEL.format("UTS:")
            + f"{inode}hostname {uts.hostname}"
            + (" (the pod's name)" if uts.matches_pod_name else "")
            + f", domain name {dash(uts.domainname)}"
            + _shared_by(report, "uts"),
        ]
        if uts.matches_pod_name is False:
            lines.append(
                f"  note: the hostname is not the pod's name ({report.pod.name}): "
                "spec.hostname sets another, or a container changed it"
            )
    lines.extend(_unavailable_lines(uts.unavailable))
    return lines


def _count(value: int | None, one: str, many: str) -> str:
    if value is None:
        return f"? {many}"
    return f"{value} {one if value == 1 else many}"


def ipc_lines(report: PodReport, ipc: IpcReport) -> list[str]:
    inode = f"ipc:[{ipc.ns_inode}]  " if ipc.ns_inode is not None else ""
    counts = ", ".join(
        [
            _count(ipc.shm_segments, "shared memory segment", "shared memory segments"),
            _count(ipc.semaphore_sets, "semaphore set", "semaphore sets"),
            _count(ipc.message_queues, "message queue", "message queues"),
        ]
    )
    posix = _count(ipc.posix_message_queues, "POSIX message queue", "POSIX message queues")
    lines = [
        "",
        LABEL.format("IPC:") + f"{inode}{counts} (SysV); {posix}" + _shared_by(report, "ipc"),
    ]
    lines.extend(_unavailable_lines(ipc.unavailable))
    return lines


def detail_lines(report: PodReport) -> list[str]:
    """The four sections, or nothing for a report made without details (a PodList item)."""
    network = report.network
    if isinstance(network, UnsetType):
        return []
    lines = network_lines(network)
    sentences = listening_sentences(report)
    lines += ["", "Listening:"]
    lines += [f"  {s}" for s in sentences] or ["  nothing listens in this network namespace"]
    if not isinstance(report.uts, UnsetType):
        lines += uts_lines(report, report.uts)
    if not isinstance(report.ipc, UnsetType):
        lines += ipc_lines(report, report.ipc)
    return lines
