"""What a pod asked for, per namespace type, in CRI's words (runtime.v1 NamespaceMode), from an
OCI spec or a CRI NamespaceOption."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..model import NamespaceMode, Role

# The namespace types a CRI NamespaceOption speaks of; UTS follows the network's mode.
CRI_NS_TYPES = ("net", "ipc", "pid")
CRI_OPTION_FIELDS = {"network": "net", "ipc": "ipc", "pid": "pid"}
# runtime.v1 NamespaceMode's numbers.
CRI_MODES = {
    0: NamespaceMode.POD,
    1: NamespaceMode.CONTAINER,
    2: NamespaceMode.NODE,
    3: NamespaceMode.TARGET,
}
# A pid has at most seven digits; \d would take any script's digits, and any number of them.
_PROC_NS_PATH = re.compile(r"^/proc/(?P<pid>[0-9]{1,10})/ns/")


def requested_from_spec(
    namespaces: Mapping[str, str], role: Role, sandbox_pid: int | None = None
) -> dict[str, NamespaceMode]:
    """The sharing an OCI spec was set up with, in CRI's words, where the spec tells.

    A type absent from the spec is the node's (NODE). A sandbox's own namespaces are the pod's
    (POD), except pid: a sandbox always has a pid namespace of its own, whether or not the
    containers will join it, so the sandbox alone cannot tell. An app container that joins a
    path shares it (POD), unless the path names a process other than the known sandbox process
    (TARGET: another container's namespace); one that creates its own has CONTAINER.
    """
    requested: dict[str, NamespaceMode] = {}
    for ns_type in CRI_NS_TYPES:
        if ns_type not in namespaces:
            requested[ns_type] = NamespaceMode.NODE
        elif role is Role.SANDBOX:
            if ns_type != "pid":
                requested[ns_type] = NamespaceMode.POD
        elif not namespaces[ns_type]:
            requested[ns_type] = NamespaceMode.CONTAINER
        else:
            joined = _PROC_NS_PATH.match(namespaces[ns_type])
            other = joined and sandbox_pid is not None and int(joined["pid"]) != sandbox_pid
            requested[ns_type] = NamespaceMode.TARGET if other else NamespaceMode.POD
    return requested


def through_sandbox(
    requested: Mapping[str, NamespaceMode], sandbox: Mapping[str, NamespaceMode]
) -> dict[str, NamespaceMode]:
    """An app container's requested sharing, given its sandbox's.

    Runtimes join an app container to its sandbox's namespaces by path even when the sandbox is
    in the node's (containerd does so for hostNetwork and hostPID pods): joining a sandbox that
    asked for NODE is asking for NODE.
    """
    return {
        ns_type: NamespaceMode.NODE
        if mode == NamespaceMode.POD and sandbox.get(ns_type) == NamespaceMode.NODE
        else mode
        for ns_type, mode in requested.items()
    }


def requested_from_options(options: Mapping[str, object]) -> dict[str, NamespaceMode]:
    """A CRI NamespaceOption as JSON (`{"network": 2, "pid": 1}`) in CRI's words.

    Runtimes serialise the modes as numbers or as names, and leave out the default (POD).
    """
    requested: dict[str, NamespaceMode] = {}
    for field_name, ns_type in CRI_OPTION_FIELDS.items():
        mode = options.get(field_name, 0)
        name = CRI_MODES.get(mode) if isinstance(mode, int) else str(mode).upper()
        if name is not None and name in CRI_MODES.values():
            requested[ns_type] = NamespaceMode(name)
    return requested
