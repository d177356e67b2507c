"""Where a runtime is, as its own process says: command-line flags, its config file, its cwd.

Pure functions of what runtime_processes.py read (the config file comes through `read_config`),
so every shape is tested without a runtime. What each runtime says:
- a containerd shim (`containerd-shim-runc-v2 -namespace NS -id ID -address SOCKET`, k3s's own
  copy too) runs in its task's bundle, `<state>/io.containerd.runtime.v2.task/<NS>/<ID>`: the
  `-address` is containerd's gRPC socket, which serves the CRI too, and the cwd gives the state
  directory. Docker's shims (namespace `moby`) belong to docker's own containerd, not to the CRI.
- containerd: `--address/-a`, `--state`, `--config/-c` (TOML: `state`, `[grpc] address`).
- CRI-O: `--listen`, `--runroot`, `--config` (TOML: `[crio] runroot`, `[crio.api] listen`); its
  conmon's `-b <runroot>/<driver>-containers/<id>/userdata` gives the run root. Podman's conmon
  (its `--exit-command` runs podman) is podman's.
- dockerd: `--data-root`; cri-dockerd: `--container-runtime-endpoint unix://SOCKET`.
Every path is a node path: absolute, normalised, without `..`, bounded; anything else is ignored.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from typing import Any

from ..model import FoundBy, LocationKind, Runtime, RuntimeLocation, RuntimeProcess
from .containerd import DEFAULT_STATE, TASK_DIR
from .cridockerd import DEFAULT_DATA_ROOT
from .crio import DEFAULT_RUN_ROOT
from .layouts import CONTAINERD_SOCKET, CRI_DOCKERD_SOCKET, CRIO_SOCKET

MAX_PATH = 1024
SHIM_EXES = frozenset({"containerd-shim", "containerd-shim-runc-v1", "containerd-shim-runc-v2"})
DOCKER_NAMESPACE = "moby"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
CRIO_CONFIG = "/etc/crio/crio.conf"
DEFAULT = "(default)"

ConfigReader = Callable[[str], Mapping[str, Any] | None]


def node_path(value: str) -> str | None:
    """`value` as a node path (a `unix://` endpoint too), or None when it is not a clean one."""
    value = value.removeprefix("unix://")
    if len(value) > 1:
        value = value.rstrip("/")
    if (
        not value.startswith("/")
        or value.startswith("//")
        or len(value) < 2
        or len(value) > MAX_PATH
        or "\0" in value
        or os.path.normpath(value) != value
    ):
        return None
    # /var/run is a link to /run: under a host root, an absolute link would leave the node.
    if value.startswith("/var/run/"):
        value = value.removeprefix("/var")
    return value


def flag_values(argv: tuple[str, ...], names: Collection[str]) -> dict[str, tuple[str, str]]:
    """Name -> (value, as spelled) of the flags in `names`, Go's and glib's ways: `-f v`,
    `--f v`, `-f=v`, `--f=v`. The last one given wins, as in both parsers."""
    found: dict[str, tuple[str, str]] = {}
    index = 1
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            break
        if not arg.startswith("-"):
            continue
        name, equals, value = arg.lstrip("-").partition("=")
        if name not in names:
            continue
        spelled = arg.partition("=")[0]
        if equals:
            found[name] = (value, spelled)
        elif index < len(argv):
            found[name] = (argv[index], spelled)
            index += 1
    return found


def locations_of(process: RuntimeProcess, read_config: ConfigReader) -> list[RuntimeLocation]:
    """Where `process` says its runtime is; [] when it says nothing usable."""
    role = process.exe
    if role == "k3s":  # k3s's multi-call binary: containerd is the child called `containerd`
        role = os.path.basename(process.argv[0]) if process.argv else ""
    if role in SHIM_EXES:
        return _from_shim(process)
    reader = _READERS.get(role)
    return reader(process, read_config) if reader is not None else []


def _location(
    process: RuntimeProcess,
    runtime: Runtime,
    kind: LocationKind,
    value: str | None,
    argument: str,
) -> list[RuntimeLocation]:
    path = node_path(value) if value is not None else None
    if path is None:
        return []
    return [
        RuntimeLocation(
            runtime, kind, path, FoundBy.PROCESS, pid=process.pid, exe=process.exe,
            argument=argument,
        )
    ]  # fmt: skip


def _from_shim(process: RuntimeProcess) -> list[RuntimeLocation]:
    flags = flag_values(process.argv, ("namespace", "id", "address"))
    namespace = flags.get("namespace", ("", ""))[0]
    if namespace == DOCKER_NAMESPACE:
        return []
    found = []
    if "address" in flags:
        value, spelled = flags["address"]
        found += _location(process, Runtime.CONTAINERD, LocationKind.CRI_SOCKET, value, spelled)
    parts = process.cwd.rsplit("/", 3)
    if len(parts) == 4 and parts[1] == TASK_DIR and parts[2] == namespace and namespace:
        container_id = flags.get("id", ("", ""))[0]
        if parts[3] == container_id:
            state = parts[0]
            found += _location(process, Runtime.CONTAINERD, LocationKind.STATE_DIR, state, "cwd")
    return found


def _from_config(
    flags: Mapping[str, tuple[str, str]],
    flag: str,
    config: Mapping[str, Any] | None,
    keys: tuple[str, ...],
    default: str,
) -> tuple[str, str] | None:
    """(value, which argument) of one setting: the flag, else the config file, else the default;
    None when the config file was named but could not be read (no guess then)."""
    if flag in flags:
        return flags[flag]
    if config is None:
        return None
    value: Any = config
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(value, str) and value:
        return value, f"config {'.'.join(keys)}"
    return default, DEFAULT


def _config(
    flags: Mapping[str, tuple[str, str]], read_config: ConfigReader, default_path: str
) -> Mapping[str, Any] | None:
    """The config file the daemon reads: the one named, else its default one where present
    (an absent default file means the built-in defaults: an empty config)."""
    if "config" in flags:
        path = node_path(flags["config"][0])
        return read_config(path) if path is not None else None
    return read_config(default_path) or {}


def _from_containerd(process: RuntimeProcess, read_config: ConfigReader) -> list[RuntimeLocation]:
    flags = _aliases(flag_values(process.argv, ("address", "a", "state", "config", "c")))
    config = _config(flags, read_config, CONTAINERD_CONFIG)
    found = []
    socket = _from_config(flags, "address", config, ("grpc", "address"), CONTAINERD_SOCKET)
    if socket is not None:
        found += _location(process, Runtime.CONTAINERD, LocationKind.CRI_SOCKET, *socket)
    state = _from_config(flags, "state", config, ("state",), DEFAULT_STATE)
    if state is not None:
        found += _location(process, Runtime.CONTAINERD, LocationKind.STATE_DIR, *state)
    return found


def _from_crio(process: RuntimeProcess, read_config: ConfigReader) -> list[RuntimeLocation]:
    flags = flag_values(process.argv, ("listen", "runroot", "config"))
    config = _config(flags, read_config, CRIO_CONFIG)
    found = []
    socket = _from_config(flags, "listen", config, ("crio", "api", "listen"), CRIO_SOCKET)
    if socket is not None:
        found += _location(process, Runtime.CRIO, LocationKind.CRI_SOCKET, *socket)
    run_root = _from_config(flags, "runroot", config, ("crio", "runroot"), DEFAULT_RUN_ROOT)
    if run_root is not None:
        found += _location(process, Runtime.CRIO, LocationKind.STATE_DIR, *run_root)
    return found


def _from_conmon(process: RuntimeProcess, read_config: ConfigReader) -> list[RuntimeLocation]:
    flags = flag_values(process.argv, ("b", "bundle", "exit-command"))
    exit_command = flags.get("exit-command", ("", ""))[0]
    if os.path.basename(exit_command) == "podman":
        return []
    bundle = flags.get("bundle") or flags.get("b")
    if bundle is None:
        return []
    parts = bundle[0].rsplit("/", 3)
    if len(parts) != 4 or parts[3] != "userdata" or not parts[1].endswith("-containers"):
        return []
    return _location(process, Runtime.CRIO, LocationKind.STATE_DIR, parts[0], bundle[1])


def _from_dockerd(process: RuntimeProcess, read_config: ConfigReader) -> list[RuntimeLocation]:
    value, spelled = flag_values(process.argv, ("data-root",)).get(
        "data-root", (DEFAULT_DATA_ROOT, DEFAULT)
    )
    return _location(process, Runtime.DOCKER, LocationKind.STATE_DIR, value, spelled)


def _from_cri_dockerd(process: RuntimeProcess, read_config: ConfigReader) -> list[RuntimeLocation]:
    value, spelled = flag_values(process.argv, ("container-runtime-endpoint",)).get(
        "container-runtime-endpoint", (CRI_DOCKERD_SOCKET, DEFAULT)
    )
    return _location(process, Runtime.DOCKER, LocationKind.CRI_SOCKET, value, spelled)


def _aliases(flags: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """containerd's one-letter flags under their long names (`-a` is `--address`)."""
    for short, long in (("a", "address"), ("c", "config")):
        if short in flags:
            flags.setdefault(long, flags.pop(short))
    return flags


_READERS: dict[str, Callable[[RuntimeProcess, ConfigReader], list[RuntimeLocation]]] = {
    "containerd": _from_containerd,
    "crio": _from_crio,
    "conmon": _from_conmon,
    "dockerd": _from_dockerd,
    "cri-dockerd": _from_cri_dockerd,
}
