"""The OCI bundle reader the runtimes share: a container's `config.json` and pid file."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from ..model import ScanError
from ..model.bounded_read import read_capped
from .state_json import read_json_file

# OCI runtime-spec namespace type -> the name of its /proc/<pid>/ns link.
OCI_NS_TYPES = {
    "network": "net",
    "ipc": "ipc",
    "uts": "uts",
    "pid": "pid",
    "mount": "mnt",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}
# Most of a config.json is the pod's spec (env, annotations), which etcd keeps under 1.5 MiB, and
# CRI-O writes its labels and annotations into it up to three times over.
OCI_CONFIG_CAP = 8 << 20
# pid_max is at most 2^22: seven digits and a newline.
PID_FILE_CAP = 32


class OciNamespace(msgspec.Struct):
    type: str | None = None
    path: str | None = None


class OciLinux(msgspec.Struct):
    namespaces: list[OciNamespace] | None = None


class OciConfig(msgspec.Struct):
    """The part of an OCI runtime spec nsinspect reads; `null` stands for absent, as in Go."""

    annotations: dict[str, str] | None = None
    linux: OciLinux | None = None
    hostname: str | None = None


@dataclass(frozen=True, slots=True)
class OciBundle:
    """What nsinspect needs from an OCI bundle's config.json."""

    annotations: dict[str, str] = field(default_factory=dict)
    # ns link name -> the path the runtime joins ("" for a namespace of its own);
    # types absent from the spec are the host's.
    namespaces: dict[str, str] = field(default_factory=dict)
    hostname: str = ""


def spec_namespaces(config: OciConfig) -> dict[str, str]:
    """ns link name -> the path a spec joins ("" to create one), for the types nsinspect knows."""
    listed = config.linux.namespaces if config.linux is not None else None
    return {
        OCI_NS_TYPES[entry.type]: entry.path or ""
        for entry in listed or ()
        if entry.type in OCI_NS_TYPES
    }


def read_oci_bundle(path: str, errors: list[ScanError]) -> OciBundle | None:
    """Read `config.json`; a missing file is None, a malformed one is None plus a ScanError."""
    config = read_json_file(path, OCI_CONFIG_CAP, OciConfig, errors)
    if config is None:
        return None
    return OciBundle(
        annotations=config.annotations or {},
        namespaces=spec_namespaces(config),
        hostname=config.hostname or "",
    )


def read_pid_file(path: str) -> int | None:
    """A runtime's pid file (`init.pid`, conmon's `pidfile`), or None if absent or malformed."""
    try:
        pid = int(read_capped(path, PID_FILE_CAP).strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None
