"""Where the runtimes are, from their processes: command lines, configs and cwds as pure
functions, the process reader on a fake /proc, and the registry's choice of places."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.fakeproc import HOST_NS, FakeProc
from nsinspect.agent.discovery.runtime_processes import RuntimeProcessReader
from nsinspect.agent.model import FoundBy, LocationKind, Process, Runtime, RuntimeProcess
from nsinspect.agent.runtimes.locations import flag_values, locations_of, node_path
from nsinspect.agent.runtimes.registry import RuntimeRegistry

CID = "c0" * 32
STATE, CRI = LocationKind.STATE_DIR, LocationKind.CRI_SOCKET


def said(
    exe: str, *argv: str, cwd: str = "/", configs: dict[str, Any] | None = None
) -> set[tuple[str, str, str, str]]:
    """(runtime, kind, path, argument) of what a process with this command line says."""
    process = RuntimeProcess(pid=42, exe=exe, argv=(exe, *argv), cwd=cwd)
    found = locations_of(process, (configs or {}).get)
    assert all(f.found_by is FoundBy.PROCESS and f.pid == 42 for f in found)
    return {(f.runtime, f.kind, f.path, f.argument) for f in found}


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("/run/k3s/containerd/containerd.sock", "/run/k3s/containerd/containerd.sock"),
        ("unix:///run/cri-dockerd.sock", "/run/cri-dockerd.sock"),
        ("/var/run/crio/crio.sock", "/run/crio/crio.sock"),  # /var/run is a link to /run
        ("/run/k3s/containerd/", "/run/k3s/containerd"),
        ("run/relative", None),
        ("/run/../etc/shadow", None),
        ("/run/./x", None),
        ("//run/x", None),
        ("/", None),
        ("/a\0b", None),
        ("/" + "x" * 2000, None),
        (os.fsdecode(b"/run/\xff\xfe/state"), os.fsdecode(b"/run/\xff\xfe/state")),
    ],
)
def test_node_paths(value: str, path: str | None) -> None:
    assert node_path(value) == path


def test_flag_values_go_and_glib_spellings() -> None:
    argv = ("x", "-a", "/one", "--state=/two", "-debug", "--", "--root", "/three")
    assert flag_values(argv, ("a", "state", "root")) == {
        "a": ("/one", "-a"),
        "state": ("/two", "--state"),
    }
    assert flag_values(("x", "--address"), ("address",)) == {}  # no value: nothing
    assert flag_values(("x", "-id", "1", "-id", "2"), ("id",)) == {"id": ("2", "-id")}


def test_a_shim_names_the_socket_and_its_bundle_the_state() -> None:
    cwd = f"/run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/{CID}"
    args = ("-namespace", "k8s.io", "-id", CID, "-address", "/run/k3s/containerd/containerd.sock")
    assert said("containerd-shim-runc-v2", *args, cwd=cwd) == {
        (Runtime.CONTAINERD, CRI, "/run/k3s/containerd/containerd.sock", "-address"),
        (Runtime.CONTAINERD, STATE, "/run/k3s/containerd", "cwd"),
    }
    # A cwd that is not this task's bundle says nothing of the state.
    other = f"/tmp/io.containerd.runtime.v2.task/k8s.io/{'d1' * 32}"
    assert {kind for _, kind, _, _ in said("containerd-shim-runc-v2", *args, cwd=other)} == {CRI}
    assert {kind for _, kind, _, _ in said("containerd-shim-runc-v2", *args, cwd="")} == {CRI}


def test_docker_shims_are_dockers() -> None:
    args = ("-namespace", "moby", "-id", CID, "-address", "/run/containerd/containerd.sock")
    cwd = f"/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/{CID}"
    assert said("containerd-shim-runc-v2", *args, cwd=cwd) == set()


def test_containerd_flags_then_config_then_defaults() -> None:
    config = {"state": "/srv/state", "grpc": {"address": "/srv/c.sock"}}
    assert said("containerd", "--config", "/etc/c.toml", configs={"/etc/c.toml": config}) == {
        (Runtime.CONTAINERD, CRI, "/srv/c.sock", "config grpc.address"),
        (Runtime.CONTAINERD, STATE, "/srv/state", "config state"),
    }
    assert said("containerd", "-a", "/x.sock", "--state", "/st", "-c", "/etc/c.toml") == {
        (Runtime.CONTAINERD, CRI, "/x.sock", "-a"),
        (Runtime.CONTAINERD, STATE, "/st", "--state"),
    }
    # A config named but unreadable: no guess at what it would have said.
    assert said("containerd", "-c", "/etc/unreadable.toml") == set()
    # No config at all: containerd's defaults.
    assert said("containerd") == {
        (Runtime.CONTAINERD, CRI, "/run/containerd/containerd.sock", "(default)"),
        (Runtime.CONTAINERD, STATE, "/run/containerd", "(default)"),
    }


def test_k3s_runs_containerd_from_its_own_binary() -> None:
    process = RuntimeProcess(
        7,
        "k3s",
        ("containerd", "-c", "/c.toml", "-a", "/run/k3s/containerd/containerd.sock",
         "--state", "/run/k3s/containerd"),
        "/",
    )  # fmt: skip
    found = {(f.kind, f.path) for f in locations_of(process, {"/c.toml": {}}.get)}
    assert found == {
        (CRI, "/run/k3s/containerd/containerd.sock"),
        (STATE, "/run/k3s/containerd"),
    }
    # k3s itself (server, agent) is no containerd.
    server = RuntimeProcess(8, "k3s", ("/usr/local/bin/k3s", "server"), "/")
    assert locations_of(server, {}.get) == []


def test_cri_o_and_its_conmon() -> None:
    assert said("crio", "--listen", "/var/run/crio/other.sock", "--runroot", "/srv/run") == {
        (Runtime.CRIO, CRI, "/run/crio/other.sock", "--listen"),
        (Runtime.CRIO, STATE, "/srv/run", "--runroot"),
    }
    bundle = f"/srv/run/overlay-containers/{CID}/userdata"
    assert said("conmon", "-b", bundle, "-c", CID, "-r", "/usr/bin/runc") == {
        (Runtime.CRIO, STATE, "/srv/run", "-b")
    }
    podmans = ("--bundle", bundle, "--exit-command", "/usr/bin/podman")
    assert said("conmon", *podmans) == set()


def test_docker_and_cri_dockerd() -> None:
    assert said("dockerd", "--data-root", "/data/docker", "-H", "unix:///run/docker.sock") == {
        (Runtime.DOCKER, STATE, "/data/docker", "--data-root")
    }
    assert said("cri-dockerd", "--container-runtime-endpoint", "unix:///run/cri-d.sock") == {
        (Runtime.DOCKER, CRI, "/run/cri-d.sock", "--container-runtime-endpoint")
    }


def test_hostile_command_lines_name_nothing() -> None:
    args = ("-namespace", "k8s.io", "-id", "../..", "-address", "/run/../etc/x.sock")
    cwd = "/run/io.containerd.runtime.v2.task/k8s.io/../.."
    assert said("containerd-shim-runc-v2", *args, cwd=cwd) == set()
    assert said("sleep", "-address", "/run/x.sock") == set()


# -- the process reader on a fake /proc ----------------------------------------------------------


def process(pid: int, comm: str, start_time: int = 100, mnt: int = HOST_NS["mnt"]) -> Process:
    namespaces: dict[str, int | None] = dict(HOST_NS) | {"mnt": mnt}
    return Process(pid, 1, comm, start_time, ("/",), namespaces)


def shim(proc: FakeProc, pid: int, cmdline: bytes, cwd: Path) -> Path:
    proc.add(pid, "containerd-shim")
    binary = proc.executable(pid, "containerd-shim-runc-v2")
    (proc.root / str(pid) / "cmdline").write_bytes(cmdline)
    (proc.root / str(pid) / "cwd").symlink_to(cwd)
    return binary


def test_reader_takes_runtimes_by_executable_and_reads_each_once(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    bundle = tmp_path / "st" / "io.containerd.runtime.v2.task" / "k8s.io" / CID
    bundle.mkdir(parents=True)
    shim(proc, 10, b"containerd-shim-runc-v2\0-address\0/run/odd\xff.sock\0", bundle)
    group_writable = shim(proc, 11, b"containerd-shim-runc-v2\0", bundle)
    group_writable.chmod(0o775)
    shim(proc, 12, b"containerd-shim-runc-v2\0", bundle)  # in a container's cgroup
    shim(proc, 13, b"containerd-shim-runc-v2\0", bundle)  # in another mount namespace
    proc.add(14, "containerd-shim")  # a comm alone
    (proc.root / "14" / "exe").symlink_to("/usr/bin/sleep")
    processes = {
        10: process(10, "containerd-shim"),
        11: process(11, "containerd-shim"),
        12: process(12, "containerd-shim"),
        13: process(13, "containerd-shim", mnt=4026532999),
        14: process(14, "containerd-shim"),
    }
    reader = RuntimeProcessReader(str(proc.root))
    [found] = reader.read(processes, HOST_NS["mnt"], in_containers={12})
    assert (found.pid, found.exe, found.cwd) == (10, "containerd-shim-runc-v2", str(bundle))
    assert found.argv == ("containerd-shim-runc-v2", "-address", os.fsdecode(b"/run/odd\xff.sock"))
    # Read once while the process lives; a new process with the pid is read anew.
    (proc.root / "10" / "cmdline").write_bytes(b"containerd-shim-runc-v2\0-changed\0")
    assert reader.read(processes, HOST_NS["mnt"], {12})[0].argv == found.argv
    processes[10] = process(10, "containerd-shim", start_time=200)
    assert reader.read(processes, HOST_NS["mnt"], {12})[0].argv[1] == "-changed"


# -- the registry: flags decide, then processes, then layouts -------------------------------------


def test_registry_layouts_processes_and_flags(tmp_path: Path) -> None:
    host = tmp_path / "host"
    (host / "run/k3s/containerd/io.containerd.runtime.v2.task").mkdir(parents=True)
    shim_said = RuntimeProcess(
        5,
        "containerd-shim-runc-v2",
        ("containerd-shim-runc-v2", "-namespace", "k8s.io", "-address", "/srv/c.sock"),
        "",
    )
    registry = RuntimeRegistry(str(host))
    located = registry.locate([shim_said])
    places = {(e.location.kind, e.location.path): e.location.found_by for e in located}
    assert places[(CRI, "/srv/c.sock")] is FoundBy.PROCESS
    assert places[(STATE, "/run/k3s/containerd")] is FoundBy.LAYOUT
    assert located[0].location.kind is CRI  # the CRI is asked first
    # A resolver lives while its place is found, and goes with it.
    kept = {e.location.path: e.resolver for e in located}
    again = {e.location.path: e.resolver for e in registry.locate([shim_said])}
    assert again["/srv/c.sock"] is kept["/srv/c.sock"]
    assert "/srv/c.sock" not in {e.location.path for e in registry.locate([])}

    flagged = RuntimeRegistry(str(host), {"containerd": "/opt/state"}, cri_sockets=())
    chosen = [e.location for e in flagged.locate([shim_said])]
    assert not any(location.kind is CRI for location in chosen)
    containerd_states = [
        (location.path, location.found_by)
        for location in chosen
        if location.kind is STATE and location.runtime is Runtime.CONTAINERD
    ]
    assert containerd_states == [("/opt/state", FoundBy.FLAG)]
    # Unflagged runtimes are still looked for: CRI-O's and docker's defaults are candidates.
    assert {Runtime.CRIO, Runtime.DOCKER} <= {location.runtime for location in chosen}
