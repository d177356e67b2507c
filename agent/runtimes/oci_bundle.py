"""The OCI bundle reader the runtimes share: a container's `config.json` and pid file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..model import ScanError, ScanStage, errno_name

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


@dataclass(frozen=True, slots=True)
class OciBundle:
    """What nsinspect needs from an OCI bundle's config.json."""

    annotations: dict[str, str] = field(default_factory=dict)
    # ns link name -> the path the runtime joins ("" for a namespace of its own);
    # types absent from the spec are the host's.
    namespaces: dict[str, str] = field(default_factory=dict)
    hostname: str = ""


def read_oci_bundle(path: str, errors: list[ScanError]) -> OciBundle | None:
    """Read `config.json`; a missing file is None, a malformed one is None plus a ScanError."""
    try:
        with open(path, "rb") as config_file:
            document: Any = json.load(config_file)
    except FileNotFoundError:
        return None
    except OSError as exc:
        errors.append(ScanError(ScanStage.RUNTIME, errno_name(exc), path=path))
        return None
    except (ValueError, UnicodeDecodeError):
        errors.append(ScanError(ScanStage.RUNTIME, "malformed config.json", path=path))
        return None
    if not isinstance(document, dict):
        errors.append(ScanError(ScanStage.RUNTIME, "malformed config.json", path=path))
        return None
    annotations = document.get("annotations")
    linux = document.get("linux")
    spec_namespaces = linux.get("namespaces") if isinstance(linux, dict) else None
    namespaces: dict[str, str] = {}
    for entry in spec_namespaces if isinstance(spec_namespaces, list) else []:
        if isinstance(entry, dict) and entry.get("type") in OCI_NS_TYPES:
            namespaces[OCI_NS_TYPES[entry["type"]]] = str(entry.get("path") or "")
    hostname = document.get("hostname")
    return OciBundle(
        annotations={str(k): str(v) for k, v in annotations.items()}
        if isinstance(annotations, dict)
        else {},
        namespaces=namespaces,
        hostname=hostname if isinstance(hostname, str) else "",
    )


def read_pid_file(path: str) -> int | None:
    """A runtime's pid file (`init.pid`, conmon's `pidfile`), or None if absent or malformed."""
    try:
        with open(path, "rb") as pid_file:
            return int(pid_file.read().strip())
    except (OSError, ValueError):
        return None
