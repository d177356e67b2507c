"""Run the agent image with podman the way the rendered DaemonSet runs it on a node.

Each DaemonSet setting becomes its podman flag: hostPID, the security context (user,
capabilities, read-only root, no privilege escalation, RuntimeDefault seccomp being podman's
default), the hostPath mounts with their read-only flag and propagation, the environment and
the arguments. Host paths are checked as the kubelet checks a typed hostPath before it starts the
pod: one that is missing or of another kind refuses the run, and a type that would create
something on the node is refused outright.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable

from harness.manifests import Document, agent_container, agent_pod_spec

PROPAGATION = {"HostToContainer": "rslave", "None": "rprivate"}
# The hostPath types the manifests may use, with the kubelet's check of each; the others create
# what is missing (DirectoryOrCreate, FileOrCreate, and "" through the runtime).
HOST_PATH_CHECKS: dict[str, Callable[[int], bool]] = {
    "Directory": stat.S_ISDIR,
    "Socket": stat.S_ISSOCK,
}


class HostPathRefusedError(AssertionError):
    """The kubelet would not start the agent's pod on this machine: a hostPath fails its type."""


def check_host_path(host_path: Document) -> None:
    """What the kubelet does before mounting a typed hostPath (following links, as it does)."""
    path, kind = host_path["path"], host_path.get("type", "")
    if kind not in HOST_PATH_CHECKS:
        raise HostPathRefusedError(f"hostPath {path} has type {kind!r}: it creates what is missing")
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        message = f"hostPath type check failed: {path}: {error.strerror}"
        raise HostPathRefusedError(message) from None
    if not HOST_PATH_CHECKS[kind](mode):
        raise HostPathRefusedError(f"hostPath type check failed: {path} is not a {kind}")


def env_args(container: Document, node_name: str) -> list[str]:
    args = []
    for variable in container.get("env", []):
        if "value" in variable:
            args.append(f"--env={variable['name']}={variable['value']}")
        elif variable["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}:
            args.append(f"--env={variable['name']}={node_name}")
        else:
            raise AssertionError(f"no podman equivalent for {variable}")
    return args


def volume_args(pod: Document, container: Document) -> list[str]:
    host_paths = {v["name"]: v["hostPath"] for v in pod["volumes"] if "hostPath" in v}
    args = []
    for mount in container["volumeMounts"]:
        check_host_path(host_paths[mount["name"]])
        source = host_paths[mount["name"]]["path"]
        options = ["ro" if mount.get("readOnly") else "rw"]
        options.append(PROPAGATION[mount.get("mountPropagation", "None")])
        args.append(f"--volume={source}:{mount['mountPath']}:{','.join(options)}")
    return args


def security_args(pod: Document, container: Document) -> list[str]:
    context = container["securityContext"]
    pod_context = pod["securityContext"]
    assert pod_context["seccompProfile"]["type"] == "RuntimeDefault"  # podman's default too
    args = [f"--user={pod_context['runAsUser']}:{pod_context['runAsGroup']}"]
    args += [f"--cap-drop={c.lower()}" for c in context["capabilities"]["drop"]]
    args += [f"--cap-add={c}" for c in context["capabilities"]["add"]]
    if context["readOnlyRootFilesystem"]:
        # Kubernetes gives a read-only root no writable /tmp or /run; podman would.
        args += ["--read-only", "--read-only-tmpfs=false"]
    if not context["allowPrivilegeEscalation"]:
        args.append("--security-opt=no-new-privileges")
    assert not context.get("privileged")
    return args


def podman_run_flags(documents: tuple[Document, ...]) -> list[str]:
    """The `podman run` flags for the agent's pod (the caller adds --rm/--detach/--name)."""
    pod = agent_pod_spec(documents)
    container = agent_container(documents)
    flags = ["--pid=host"] if pod["hostPID"] else []
    flags += security_args(pod, container)
    flags += volume_args(pod, container)
    flags += env_args(container, socket.gethostname())
    return flags


def agent_arguments(documents: tuple[Document, ...]) -> list[str]:
    arguments: list[str] = agent_container(documents)["args"]
    return arguments
