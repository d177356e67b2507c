"""Run the agent image with podman the way the rendered DaemonSet runs it on a node.

The agent's pod is a podman pod of two containers, `scanner` and `server`, sharing the pod's
network namespace and a tmpfs volume (the emptyDir `results`, medium Memory). Each DaemonSet
setting becomes its podman flag: hostPID, each container's security context (user and group,
the pod's fsGroup as a supplementary group, capabilities, read-only root, no privilege
escalation; RuntimeDefault seccomp is podman's default, a Localhost profile is the file from
deploy/seccomp that the seccomp overlay's README installs on nodes), the hostPath mounts with
their read-only flag and propagation, the environment, command and arguments. AppArmor is not
on this machine's kernel, so the profiles are left to podman's default (none). Host paths are
checked as the kubelet checks a typed hostPath before it starts the pod: one that is missing or
of another kind refuses the run, and a type that would create something on the node is refused
outright.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.manifests import DEPLOY, REPO, Document, agent_containers, agent_pod_spec
from harness.podman import podman
from nsinspect.agent import __version__

VERSION = __version__  # pyproject reads it from there (dynamic version)
IMAGE = f"localhost/nsinspect:{VERSION}"
BUILD = REPO / "deploy" / "image" / "build.sh"
PROPAGATION = {"HostToContainer": "rslave", "None": "rprivate"}
# The hostPath types the manifests may use, with the kubelet's check of each; the others create
# what is missing (DirectoryOrCreate, FileOrCreate, and "" through the runtime).
HOST_PATH_CHECKS: dict[str, Callable[[int], bool]] = {
    "Directory": stat.S_ISDIR,
    "Socket": stat.S_ISSOCK,
}
# Where the seccomp overlay's Localhost profiles come from: the kubelet's seccomp root holds
# deploy/seccomp's files under nsinspect/ (deploy/overlays/seccomp/kustomization.yaml).
SECCOMP_PROFILES = {"nsinspect": DEPLOY / "seccomp"}


def build() -> tuple[str, float]:
    """Run build.sh; its last line and how long it took."""
    started = time.monotonic()
    done = subprocess.run([str(BUILD)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1], time.monotonic() - started


def image_id() -> str:
    return podman("image", "inspect", "--format", "{{.Id}}", IMAGE).stdout.strip()


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


def volume_args(pod: Document, container: Document, emptydirs: dict[str, str]) -> list[str]:
    """Host paths as bind mounts; an emptyDir as the podman volume `emptydirs` names for it, or
    a tmpfs of the container's own when there is none (a container run alone)."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    args = []
    for mount in container["volumeMounts"]:
        options = ["ro" if mount.get("readOnly") else "rw"]
        declared = volumes[mount["name"]]
        if "emptyDir" in declared:
            assert declared["emptyDir"]["medium"] == "Memory", declared
            if mount["name"] in emptydirs:
                source = emptydirs[mount["name"]]
                args.append(f"--volume={source}:{mount['mountPath']}:{','.join(options)}")
            else:
                args.append(f"--tmpfs={mount['mountPath']}:rw,mode=2777")
            continue
        check_host_path(declared["hostPath"])
        options.append(PROPAGATION[mount.get("mountPropagation", "None")])
        source = declared["hostPath"]["path"]
        args.append(f"--volume={source}:{mount['mountPath']}:{','.join(options)}")
    return args


def seccomp_args(pod: Document, container: Document) -> list[str]:
    profile = container["securityContext"].get(
        "seccompProfile", pod["securityContext"].get("seccompProfile", {"type": "RuntimeDefault"})
    )
    if profile["type"] == "RuntimeDefault":
        return []  # podman's default filter
    assert profile["type"] == "Localhost", profile
    directory, *rest = PurePosixPath(profile["localhostProfile"]).parts
    return [f"--security-opt=seccomp={SECCOMP_PROFILES[directory].joinpath(*rest)}"]


def security_args(pod: Document, container: Document) -> list[str]:
    context = container["securityContext"]
    pod_context = pod["securityContext"]
    user = context.get("runAsUser", pod_context.get("runAsUser"))
    group = context.get("runAsGroup", pod_context.get("runAsGroup"))
    if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
        assert user not in (None, 0), "runAsNonRoot with uid 0: the kubelet refuses it"
    args = [f"--user={user}:{group}"]
    if "fsGroup" in pod_context:  # the kubelet adds it to every container's groups
        args.append(f"--group-add={pod_context['fsGroup']}")
    args += [f"--cap-drop={c.lower()}" for c in context["capabilities"]["drop"]]
    args += [f"--cap-add={c}" for c in context["capabilities"].get("add", [])]
    if context["readOnlyRootFilesystem"]:
        # Kubernetes gives a read-only root no writable /tmp or /run; podman would.
        args += ["--read-only", "--read-only-tmpfs=false"]
    if not context["allowPrivilegeEscalation"]:
        args.append("--security-opt=no-new-privileges")
    assert not context.get("privileged")
    return args + seccomp_args(pod, container)


def container_flags(
    documents: tuple[Document, ...], name: str, emptydirs: dict[str, str] | None = None
) -> list[str]:
    """The `podman run` flags for one container of the agent's pod, without its command (the
    caller adds --rm/--detach/--name/--pod)."""
    pod = agent_pod_spec(documents)
    container = agent_containers(documents)[name]
    flags = ["--pid=host"] if pod["hostPID"] else []
    flags += security_args(pod, container)
    flags += volume_args(pod, container, emptydirs or {})
    flags += env_args(container, socket.gethostname())
    if "command" in container:
        flags.append(f"--entrypoint={json.dumps(container['command'])}")
    return flags


def podman_run_flags(documents: tuple[Document, ...]) -> list[str]:
    """The scanner container's flags, to run it alone (`nsinspect pods` as the scanner may)."""
    return container_flags(documents, "scanner")


def container_arguments(documents: tuple[Document, ...], name: str) -> list[str]:
    arguments: list[str] = agent_containers(documents)[name]["args"]
    return arguments


@dataclass(frozen=True)
class AgentPod:
    """The agent's pod running under podman: the pod and its containers' names."""

    pod: str
    scanner: str
    server: str

    def pid(self, container: str) -> int:
        """The host pid of the container's first process."""
        return int(podman("inspect", "--format", "{{.State.Pid}}", container).stdout)

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{podman('logs', name, check=False).stderr[-2000:]}"
            for name in (self.scanner, self.server)
        )


@contextmanager
def results_volume(documents: tuple[Document, ...]) -> Iterator[str]:
    """A tmpfs on this machine as the kubelet makes the emptyDir `results` (medium Memory): of
    the sizeLimit, writable by all as an emptyDir is, its group the pod's fsGroup, setgid so
    that files inherit it. Bind-mounted into both containers; unmounted and removed on exit.
    (podman 4.3's own tmpfs volumes take no size: it reads size as a quota.)"""
    pod = agent_pod_spec(documents)
    [declared] = [v for v in pod["volumes"] if v["name"] == "results"]
    size = declared["emptyDir"]["sizeLimit"].removesuffix("Mi")
    group = pod["securityContext"].get("fsGroup", 0)
    directory = tempfile.mkdtemp(prefix="nsinspect-results-")
    options = f"size={size}m,mode=2777,gid={group},nosuid,nodev"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", directory], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "--lazy", directory], check=False)
        os.rmdir(directory)


@contextmanager
def agent_pod(documents: tuple[Document, ...], image: str) -> Iterator[AgentPod]:
    """Start the rendered agent pod's two containers in a podman pod; removed on exit."""
    suffix = uuid.uuid4().hex[:8]
    running = AgentPod(
        f"nsinspect-deploy-{suffix}", f"nsinspect-scanner-{suffix}", f"nsinspect-server-{suffix}"
    )
    with results_volume(documents) as volume:
        try:
            podman("pod", "create", f"--name={running.pod}", "--share=net,ipc,uts")
            for name, container in (("scanner", running.scanner), ("server", running.server)):
                podman(
                    "run",
                    "--detach",
                    f"--name={container}",
                    f"--pod={running.pod}",
                    *container_flags(documents, name, {"results": volume}),
                    image,
                    *container_arguments(documents, name),
                )
            yield running
        finally:
            podman("pod", "rm", "--force", "--time=0", running.pod, check=False)


def process_status(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as fields."""
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def container_pids(container: str) -> list[int]:
    """Every process of the container: those whose cgroup names its id."""
    container_id = podman("inspect", "--format", "{{.Id}}", container).stdout.strip()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and container_id in (entry / "cgroup").read_text():
                pids.append(int(entry.name))
        except OSError:  # gone meanwhile
            continue
    return pids


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets among the process's open files."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target.removeprefix("socket:[").removesuffix("]")))
    return inodes


def inet_sockets(netns_pid: int) -> dict[int, tuple[str, int, str]]:
    """The TCP and UDP sockets of a process's network namespace by inode: (protocol, local
    port, state as the kernel prints it, "0A" being LISTEN)."""
    found = {}
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        lines = Path(f"/proc/{netns_pid}/net/{protocol}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            found[int(fields[9])] = (protocol, port, fields[3])
    return found
