"""One fake node with a bit of everything a report can say, for the golden outputs.

Every pod kind and verdict, every finding code but the ones that need a pod spec, pins and
orphans, and enough of `/proc/<pid>/net` for the Network and Listening sections to have rows.
Nothing here is real: the inodes, pids and ids are fixed, so every output is too.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.fakenode import (
    APP_B,
    INFRA_B,
    IPC_B,
    NET_A,
    NET_B,
    POD_B,
    UTS_B,
    Node,
)
from harness.fakepodman import cid, podman_cgroup
from harness.fakeproc import HOST_NS, nsfs_mount_line
from harness.fakeruntimes import (
    FakeContainerd,
    FakeCrio,
    cgroup_lines,
    cgroupfs_path,
    containerd_annotations,
    crio_annotations,
    systemd_path,
)

# The pods a test asks about by name (the runtime-less one is named after its net namespace).
SEED, INTRUDER, HOSTNET, GONE, WEB, RUNTIME_LESS = (
    "my-nginx-pod",
    "intruder",
    "hostnet",
    "gone-sandbox",
    "web",
    "net-4026532800",
)
POD_C, INFRA_C, APP_C = cid(0xC), cid(0xC1), cid(0xC2)
POD_D, INFRA_D, APP_D = cid(0xD), cid(0xD1), cid(0xD2)
CRIO_UID, CRIO_SANDBOX, CRIO_NGINX = "0dce96c8-10db-4274-82a3-05b59e8d9b10", "c1" * 32, "c2" * 32
CTRD_UID, CTRD_SANDBOX, CTRD_REDIS = "7e1c0a52-3b8f-4d6e-9a0b-2f4c6d8e1a3b", "d1" * 32, "d2" * 32
CRIO_NS = {"net": 4026532440, "ipc": 4026532441, "uts": 4026532442}
CTRD_NS = {"net": 4026532450, "ipc": 4026532451, "uts": 4026532452}
HOLDER_NS = {"net": 4026532800, "ipc": 4026532801, "uts": 4026532802}
ORPHAN_NET = 4026532900
# A comm with spaces and parentheses: /proc/<pid>/stat puts it between the first `(` and the
# last `)`, the way a process may name itself.
ODD_COMM = "(sd-pam) x) y"

# What pid 1 has mounted: the CRI-O pod's pinned namespaces, a leaked CNI netns, the node's
# mqueue instance.
HOST_MOUNTINFO = [
    "29 25 0:20 / /dev/mqueue rw,nosuid,nodev,noexec,relatime shared:14 - mqueue mqueue rw",
    nsfs_mount_line(40, "net", CRIO_NS["net"], "/run/netns/web-p1"),
    nsfs_mount_line(41, "ipc", CRIO_NS["ipc"], "/run/ipcns/web-p1"),
    nsfs_mount_line(42, "uts", CRIO_NS["uts"], "/run/utsns/web-p1"),
    nsfs_mount_line(43, "net", ORPHAN_NET, "/run/netns/cni-leaked 1"),
]
SEED_MOUNTINFO = ["600 590 0:60 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw"]


def socket_table(*rows: tuple[str, str, str, int]) -> str:
    """`/proc/<pid>/net/{tcp,udp}[6]`: (local, remote, state, inode) per socket."""
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
    lines = [f"{header}   uid  timeout inode\n"]
    for n, (local, remote, state, inode) in enumerate(rows):
        lines.append(
            f"   {n}: {local} {remote} {state} 00000000:00000000 00:00000000 00000000"
            f"     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n"
        )
    return "".join(lines)


# /proc/<sandbox>/net of the seed pod: lo and eth0 with addresses and routes, as a podman pod
# on a CNI bridge shows them (captured on Debian 12, trimmed).
SEED_NET = {
    "dev": (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
        "    lo:       0       0    0    0    0     0          0         0        0       0\n"
        "  eth0:    4204      44    0    0    0     0          0         0      796      10\n"
    ),
    "igmp": (
        "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"
        "1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n"
        "2\teth0      :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n"
    ),
    "if_inet6": (
        "fe8000000000000010b62dfffe58c550 02 40 20 80     eth0\n"
        "00000000000000000000000000000001 01 80 10 80       lo\n"
    ),
    "fib_trie": (
        "Main:\n  +-- 0.0.0.0/1 2 0 2\n     +-- 0.0.0.0/4 2 0 2\n        |-- 0.0.0.0\n"
        "           /0 universe UNICAST\n        +-- 10.89.0.0/24 2 0 2\n"
        "           +-- 10.89.0.0/29 2 0 2\n              |-- 10.89.0.0\n"
        "                 /24 link UNICAST\n              |-- 10.89.0.4\n"
        "                 /32 host LOCAL\n           |-- 10.89.0.255\n"
        "              /32 link BROADCAST\n     +-- 127.0.0.0/8 2 0 2\n"
        "        +-- 127.0.0.0/31 1 0 0\n           |-- 127.0.0.0\n"
        "              /8 host LOCAL\n           |-- 127.0.0.1\n              /32 host LOCAL\n"
        "Local:\n  +-- 0.0.0.0/1 2 0 2\n              |-- 10.89.0.4\n"
        "                 /32 host LOCAL\n"
    ),
    "route": (
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0100590A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "eth0\t0000590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    ),
    "ipv6_route": (
        "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
        "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n"
    ),
    # 127.0.0.1:9000 held by the sandbox, 10.89.0.4:8080 by no process the search finds, and an
    # established connection, which is not listed.
    "tcp": socket_table(
        ("0100007F:2328", "00000000:0000", "0A", 50002),
        ("0400590A:1F90", "00000000:0000", "0A", 50004),
        ("0400590A:0050", "0100590A:D431", "01", 50005),
    ),
    "tcp6": socket_table((f"{0:032X}:0050", f"{0:032X}:0000", "0A", 50001)),  # nginx's
    "udp": socket_table(("00000000:0035", "00000000:0000", "07", 50003)),  # another pod's
}
HOSTNET_NET = {
    "dev": SEED_NET["dev"].replace("eth0", "ens3"),
    "tcp": socket_table(("00000000:0016", "00000000:0000", "0A", 50010)),  # sshd, the node's
}


def write_files(base: Path, files: dict[str, str]) -> None:
    base.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (base / name).write_text(text)


def open_fds(node: Node, pid: int, targets: dict[int, str]) -> None:
    """fd -> target links in /proc/<pid>/fd, as the kernel shows open sockets and nsfs files."""
    fd_dir = node.proc.root / str(pid) / "fd"
    fd_dir.mkdir(parents=True, exist_ok=True)
    for fd, target in targets.items():
        (fd_dir / str(fd)).symlink_to(target)


def own(pid: int) -> dict[str, int]:
    """A pid and a mount namespace of the process's own."""
    return {"pid": 4026533000 + pid, "mnt": 4026534000 + pid}


def build(root: Path) -> Node:
    """The node under `root`: the seed pod and six more, host processes, pins and an orphan."""
    node = Node(root)
    node.seed_pod()
    node.proc.set_mountinfo(1, HOST_MOUNTINFO)
    node.proc.set_mountinfo(300, SEED_MOUNTINFO)
    write_files(node.proc.root / "300" / "root" / "dev" / "mqueue", {"orders": "", "audit": ""})
    write_files(node.proc.root / "300" / "net", SEED_NET)
    open_fds(node, 300, {4: "socket:[50002]", 5: "pipe:[777]"})
    open_fds(node, 310, {3: "socket:[50001]"})
    intruder(node)
    hostnet(node)
    gone_sandbox(node)
    crio_pinned(node)
    containerd_unreadable(node)
    runtime_less(node)
    host_processes(node)
    return node


def intruder(node: Node) -> None:
    """A podman pod whose app container sits in the seed pod's network namespace."""
    node.podman.add_pod(POD_B, INTRUDER, shares=("Net", "Ipc", "Uts", "Pid"))
    node.podman.add_container(INFRA_B, "bbbbbbbbbbbb-infra")
    node.podman.add_container(APP_B, f"{INTRUDER}-app", sandbox_id=INFRA_B)
    pod_ns = {"net": NET_B, "ipc": IPC_B, "uts": UTS_B}
    node.proc.add(
        400, "catatonit", start_time=40, namespaces=pod_ns | own(400),
        cgroup=podman_cgroup(POD_B, INFRA_B),
    )  # fmt: skip
    node.proc.add(
        410, "dnsmasq", start_time=41, namespaces=pod_ns | {"net": NET_A} | own(410),
        cgroup=podman_cgroup(POD_B, APP_B),
    )  # fmt: skip
    open_fds(node, 410, {5: "socket:[50003]"})


def hostnet(node: Node) -> None:
    """A podman pod on the node's network (and so its UTS); a socket of the node's in there."""
    node.podman.add_pod(POD_C, HOSTNET)
    node.podman.add_container(INFRA_C, "cccccccccccc-infra", namespaces={"ipc": "", "pid": ""})
    node.podman.add_container(APP_C, f"{HOSTNET}-agent", sandbox_id=INFRA_C)
    pod_ns = {"ipc": 4026532420}
    node.proc.add(
        420, "catatonit", start_time=42, namespaces=pod_ns | own(420),
        cgroup=podman_cgroup(POD_C, INFRA_C),
    )  # fmt: skip
    node.proc.add(
        421, "node_exporter", start_time=43, namespaces=pod_ns | own(421),
        cgroup=podman_cgroup(POD_C, APP_C),
    )  # fmt: skip
    write_files(node.proc.root / "420" / "net", HOSTNET_NET)


def gone_sandbox(node: Node) -> None:
    """A podman pod whose infra process is gone while its app container runs."""
    node.podman.add_pod(POD_D, GONE)
    node.podman.add_container(INFRA_D, "dddddddddddd-infra")
    node.podman.add_container(APP_D, f"{GONE}-worker", sandbox_id=INFRA_D)
    pod_ns = {"net": 4026532430, "ipc": 4026532431, "uts": 4026532432}
    node.proc.add(
        440, "worker", start_time=44, namespaces=pod_ns | own(440),
        cgroup=podman_cgroup(POD_D, APP_D),
    )  # fmt: skip


def crio_pinned(node: Node) -> None:
    """A CRI-O pod with no infra process: its namespaces pinned under /run/{net,ipc,uts}ns."""
    crio = FakeCrio(node.host_root)
    pins = {"net": "/var/run/netns/web-p1", "ipc": "/var/run/ipcns/web-p1"}
    pins |= {"uts": "/var/run/utsns/web-p1", "pid": "", "mnt": ""}
    sandbox = crio_annotations("sandbox", CRIO_SANDBOX, WEB, CRIO_UID)
    sandbox["io.kubernetes.cri-o.NamespaceOptions"] = json.dumps({"pid": 1})  # CONTAINER
    crio.add(CRIO_SANDBOX, sandbox, pins)
    annotations = crio_annotations("container", CRIO_SANDBOX, WEB, CRIO_UID, name="nginx")
    crio.add(CRIO_NGINX, annotations, pins, pid=450)
    node.proc.add(
        450, "nginx", start_time=45, namespaces=CRIO_NS | own(450),
        cgroup=cgroup_lines(systemd_path(CRIO_UID, CRIO_NGINX), 2),
    )  # fmt: skip
    node.proc.add(
        451, "conmon", start_time=45,
        cgroup=cgroup_lines(systemd_path(CRIO_UID, CRIO_NGINX, prefix="crio-conmon"), 2),
    )  # fmt: skip


def containerd_unreadable(node: Node) -> None:
    """A containerd pod of the same name in another namespace; one namespace link unreadable."""
    containerd = FakeContainerd(node.host_root)
    containerd.add(
        CTRD_SANDBOX,
        containerd_annotations("sandbox", CTRD_SANDBOX, WEB, CTRD_UID, namespace="kube-system"),
        {"net": "/var/run/netns/cni-7e1c", "ipc": "", "uts": "", "pid": "", "mnt": ""},
        pid=460,
    )
    joined = {t: "/proc/460/ns/" + t for t in ("net", "ipc", "uts")}
    containerd.add(
        CTRD_REDIS,
        containerd_annotations(
            "container", CTRD_SANDBOX, WEB, CTRD_UID, name="redis", namespace="kube-system"
        ),
        {"pid": "", "mnt": ""} | joined,
        pid=470,
    )
    node.proc.add(
        460, "pause", start_time=46, namespaces=CTRD_NS | own(460),
        cgroup=cgroup_lines(cgroupfs_path(CTRD_UID, CTRD_SANDBOX, qos="burstable"), 1),
    )  # fmt: skip
    node.proc.add(
        470, "redis-server", start_time=47, namespaces=CTRD_NS | own(470),
        cgroup=cgroup_lines(cgroupfs_path(CTRD_UID, CTRD_REDIS, qos="burstable"), 1),
        unreadable=["ipc"],
    )  # fmt: skip


def runtime_less(node: Node) -> None:
    """No runtime state at all: a pause holder, and two apps in its net, ipc and uts with a pid
    and mnt namespace each, which joined the holder from outside its process tree (started by a
    shim, pid 499, as runc starts them)."""
    node.proc.add(500, "pause", start_time=5, namespaces=HOLDER_NS)
    node.proc.add(502, "app", ppid=499, start_time=9, namespaces=HOLDER_NS | own(502))
    node.proc.add(503, "Web (Content)", ppid=499, start_time=9, namespaces=HOLDER_NS | own(503))


def host_processes(node: Node) -> None:
    """The node's own: a process with an odd comm holding a socket in the node's network, and a
    runtime process holding the leaked netns open as well."""
    node.proc.add(700, ODD_COMM, start_time=70, cgroup="0::/user.slice/user-0.slice")
    open_fds(node, 700, {3: "socket:[50010]"})
    node.proc.add(710, "conmon", start_time=71, cgroup="0::/system.slice")
    node.proc.executable(710, "conmon")
    open_fds(node, 710, {9: f"net:[{ORPHAN_NET}]"})


# Inodes a scan of the fake node takes as namespaces; none may be the test process's own network
# namespace, or a pod's details would be read from the real one.
FAKE_NET_INODES = frozenset(
    {HOST_NS["net"], NET_A, NET_B, 4026532430, CRIO_NS["net"], CTRD_NS["net"], HOLDER_NS["net"]}
)
