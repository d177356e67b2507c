"""A picture of a pod: Graphviz DOT drawn from its report (local or remote alike).

The sandbox and the app containers are boxes; each namespace is one node, so a namespace the
containers share is visibly one node with several edges; the pod's veth leads to its host-side
end and the bridge that end is enslaved to. `-o svg`/`-o png` hand the DOT to Graphviz's `dot`.
Every string goes into the DOT through quote(), which escapes the node's control characters.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence

import click
from msgspec import UnsetType

from ..agent.report import (
    NS_TYPES,
    POD_SHARED_TYPES,
    ContainerReport,
    PodReport,
    SocketOwner,
    Verdict,
)
from .terminal_text import CommandError, escape_controls

VERDICT_COLOUR = {
    "pod": "#2e7d32",
    "host": "#b28704",
    "other": "#c62828",
    "private": "#607d8b",
    "unknown": "#8e24aa",
}
NS_FILL = {"pod": "#e8f5e9", "host": "#fff8e1", "other": "#ffebee", "private": "#eceff1"}
GRAPH_FORMATS = ("dot", "svg", "png")


def _dot_text(text: object) -> str:
    """One line for a DOT string: control characters escaped, then DOT's own `\\` and `"`."""
    return escape_controls(str(text)).replace("\\", "\\\\").replace('"', '\\"')


def quote(*lines: object) -> str:
    """A DOT double-quoted string of `lines`, joined by DOT's line break (`\\n`).

    A newline inside a line is the node's, escaped as text: it cannot start a line of a label.
    """
    return '"' + "\\n".join(_dot_text(line) for line in lines) + '"'


def _node(node_id: str, label: Sequence[object], **attributes: str) -> str:
    extra = "".join(f", {key}={quote(value)}" for key, value in attributes.items())
    return f"    {quote(node_id)} [label={quote(*label)}{extra}];"


def _edge(tail: str, head: str, **attributes: str) -> str:
    extra = ", ".join(f"{key}={quote(value)}" for key, value in attributes.items())
    return f"    {quote(tail)} -> {quote(head)}" + (f" [{extra}];" if extra else ";")


def _ns_id(ns_type: str, inode: int | None, owner: str) -> str:
    return f"ns:{ns_type}:{inode}" if inode is not None else f"ns:{ns_type}:unknown:{owner}"


def _namespace_notes(report: PodReport) -> dict[str, str]:
    """What the details found in the pod's UTS and IPC namespaces, for their nodes' labels."""
    notes = {}
    uts, ipc = report.uts, report.ipc
    if not isinstance(uts, UnsetType) and uts.hostname is not None:
        notes[_ns_id("uts", uts.ns_inode, "sandbox")] = f"hostname {uts.hostname}"
    if not isinstance(ipc, UnsetType) and ipc.shm_segments is not None:
        counts = f"shm {ipc.shm_segments}, sem {ipc.semaphore_sets}, msg {ipc.message_queues}"
        notes[_ns_id("ipc", ipc.ns_inode, "sandbox")] = counts
    return notes


def _listens(report: PodReport, container: ContainerReport) -> list[str]:
    if isinstance(report.network, UnsetType):
        return []
    return [
        f"listens {entry.address}:{entry.port}/{entry.protocol}"
        if entry.family == "ipv4"
        else f"listens [{entry.address}]:{entry.port}/{entry.protocol}"
        for entry in report.network.listening
        if entry.owner is SocketOwner.CONTAINER and entry.container == container.name
    ]


class _Drawing:
    """Collects nodes per place (pod, node) and edges, each namespace node once."""

    def __init__(self, report: PodReport) -> None:
        self.report = report
        self.pod_nodes: list[str] = []
        self.node_nodes: list[str] = []
        self.edges: list[str] = []
        self.seen: set[str] = set()
        self.host = report.host.namespaces
        self.notes = _namespace_notes(report)

    def namespace(self, ns_type: str, inode: int | None, verdict: str, owner: str) -> str:
        node_id = _ns_id(ns_type, inode, owner)
        if node_id not in self.seen:
            self.seen.add(node_id)
            is_host = inode is not None and self.host.get(ns_type) == inode
            kind = "host" if is_host else verdict
            label = [ns_type, inode if inode is not None else "unreadable"]
            if is_host:
                label.append("(node's)")
            if node_id in self.notes:
                label.append(self.notes[node_id])
            node = _node(
                node_id,
                label,
                shape="ellipse",
                style="filled",
                fillcolor=NS_FILL.get(kind, "#f3e5f5"),
                color=VERDICT_COLOUR.get(kind, "#8e24aa"),
            )
            (self.node_nodes if is_host else self.pod_nodes).append(node)
        return node_id

    def members(self) -> None:
        """Containers first, so a namespace they share with the sandbox is coloured `pod`."""
        sandbox = self.report.sandbox
        holder = f"{sandbox.comm or sandbox.process}"
        if sandbox.pid is not None:
            holder += f", pid {sandbox.pid}"
        label = ["sandbox", holder, (sandbox.id or "-")[:12]]
        self.pod_nodes.append(
            _node("sandbox", label, shape="box", style="filled,bold", fillcolor="#e0e0e0")
        )
        for container in self.report.containers:
            node_id = f"container:{container.name}"
            pid = container.pid if container.pid is not None else "-"
            label = [container.name, f"pid {pid}", *_listens(self.report, container)]
            self.pod_nodes.append(_node(node_id, label, shape="box", style="rounded"))
            for ns_type in NS_TYPES:
                entry = container.namespaces.get(ns_type)
                if entry is None:
                    continue
                verdict = entry.verdict
                ns = self.namespace(ns_type, entry.inode, verdict, container.name)
                self.edges.append(
                    _edge(node_id, ns, color=VERDICT_COLOUR.get(verdict, "#000000"), label=verdict)
                )
        for ns_type in NS_TYPES:
            if ns_type in sandbox.namespaces:
                held = Verdict.POD if ns_type in POD_SHARED_TYPES else Verdict.PRIVATE
                ns = self.namespace(ns_type, sandbox.namespaces[ns_type], held, "sandbox")
                self.edges.append(_edge("sandbox", ns, style="bold", color="#424242"))

    def network(self) -> None:
        network = self.report.network
        if isinstance(network, UnsetType) or network.host_network:
            return
        net_id = _ns_id("net", self.report.sandbox.namespaces.get("net"), "sandbox")
        for interface in network.interfaces:
            if interface.kind == "loopback":
                continue
            if_id = f"if:pod:{interface.name}"
            label = [
                f"{interface.name} ({interface.kind or 'interface'})",
                *interface.addresses[:3],
            ]
            self.pod_nodes.append(_node(if_id, label, shape="cds", style="filled"))
            self.edges.append(_edge(net_id, if_id, style="dashed", arrowhead="none"))
            peer = interface.peer
            if not peer or not peer.name:
                continue
            peer_id = f"if:node:{peer.name}"
            self.node_nodes.append(
                _node(peer_id, [peer.name, f"ifindex {peer.index}"], shape="cds")
            )
            self.edges.append(_edge(if_id, peer_id, dir="both", label="veth pair"))
            master = peer.master
            if master:
                master_id = f"if:node:{master.name}"
                if master_id not in self.seen:
                    self.seen.add(master_id)
                    label = [master.name, f"({master.kind or 'master'})"]
                    self.node_nodes.append(_node(master_id, label, shape="box3d"))
                self.edges.append(_edge(peer_id, master_id, label="enslaved to"))


def build_dot(report: PodReport) -> str:
    """The DOT source for one pod: its members, namespaces and network path to the node."""
    drawing = _Drawing(report)
    drawing.members()
    drawing.network()
    pod = report.pod
    title = pod.key
    pod_label = f"pod {title} ({pod.runtime})"
    lines = [
        f"digraph {quote('pod ' + title)} {{",
        '    graph [rankdir=LR, fontname="Helvetica", compound=true, nodesep=0.3];',
        '    node [fontname="Helvetica", fontsize=10];',
        '    edge [fontname="Helvetica", fontsize=8];',
        "    subgraph cluster_pod {",
        f"    label={quote(pod_label)}; style=rounded;",
        *drawing.pod_nodes,
        "    }",
        "    subgraph cluster_node {",
        f"    label={quote('node ' + (report.node or ''))}; style=dashed;",
        *drawing.node_nodes,
        "    }",
        *drawing.edges,
        "}",
    ]
    return "\n".join(lines) + "\n"


def render_graph(dot_source: str, output: str) -> bytes:
    """SVG or PNG from Graphviz's `dot`; a ClickException (exit 1) when it is missing or fails."""
    dot = shutil.which("dot")
    if dot is None:
        raise CommandError(
            f"-o {output} needs Graphviz's `dot` command, which is not on PATH. Install Graphviz "
            "(Debian/Ubuntu: apt-get install graphviz), or print the source with -o dot and "
            "render it elsewhere."
        )
    try:
        done = subprocess.run(
            [dot, f"-T{output}"],
            input=dot_source.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommandError(f"running {dot} failed: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise CommandError(f"dot -T{output} failed: {message}")
    return done.stdout


def emit_graph(report: PodReport, output: str) -> None:
    source = build_dot(report)
    if output == "dot":
        click.echo(source, nl=False)
        return
    sys.stdout.buffer.write(render_graph(source, output))
