"""Run the agent image with podman the way the rendered DaemonSet runs it on a node.

Each DaemonSet setting becomes its podman flag: hostPID, the security context (user,
capabilities, read-only root, no privilege escalation, RuntimeDefault seccomp being podman's
default), the hostPath mounts with their read-only flag and propagation, the environment and
the arguments. Host paths missing on this machine are left out, where the kubelet would create
them empty: the test leaves no directories behind on the host.
"""

from __future__ import annotations

import os
import socket

from harness.manifests import Document, agent_container, agent_pod_spec

PROPAGATION = {"HostToContainer": "rslave", "None": "rprivate"}


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
    host_paths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    args = []
    for mount in container["volumeMounts"]:
        source = host_paths[mount["name"]]
        if not os.path.exists(source):
            continue
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
