"""A real Kubernetes node runtime for the tests: containerd's CRI plugin + runc + CNI bridge.

Everything lives under one temporary directory (see shared/lab/CONTAINERD-CRI.md): containerd's
root and state, runc's state, the CNI config and IPAM data, the images. Pods are created over the
CRI gRPC API with the calls and shapes kubelet uses (RunPodSandbox with a kubelet-style
`cgroup_parent`, CreateContainer, StartContainer). Teardown removes the pods over CRI, stops
containerd, then ends only what this node started (found by its own socket path, by pid) and
removes what it created: pod cgroups, leftover netns mounts, the CNI bridge, runtime dirs.
"""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from harness import cri_harness_pb2 as w
from harness.cri_config import write_config
from harness.cri_teardown import Leftovers, end_processes, remove_leftovers, snapshot_leftovers
from harness.oci_images import (
    BUSYBOX_IMAGE,
    PAUSE_IMAGE,
    busybox_content,
    pause_content,
    write_oci_archive,
)
from nsinspect.agent.runtimes.cri_api import runtime_v1_pb2 as r
from nsinspect.agent.runtimes.cri_api import runtime_v1_pb2_grpc as r_grpc


def remove_outside(directory: Path) -> list[str]:
    """Remove a directory the node made outside its lab: first whatever is still mounted below
    it (a pod's shm, a task's rootfs after a failed teardown), then the tree; what could not be
    removed, as problems."""
    with open("/proc/self/mountinfo", errors="surrogateescape") as mountinfo:
        points = [Path(line.split(" ")[4]) for line in mountinfo]
    for point in sorted((p for p in points if p.is_relative_to(directory)), reverse=True):
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
    try:
        shutil.rmtree(directory)
    except OSError as exc:
        return [f"{directory}: {exc.strerror}"]
    return []


MODES = {"POD": r.POD, "CONTAINER": r.CONTAINER, "NODE": r.NODE, "TARGET": r.TARGET}


@dataclass(frozen=True)
class PodSpec:
    """A pod as kubelet would hand it to the runtime; modes are CRI's NamespaceMode names."""

    name: str
    containers: dict[str, list[str]]
    namespace: str = "default"
    network: str = "POD"
    pid: str = "CONTAINER"
    ipc: str = "POD"
    labels: dict[str, str] = field(default_factory=dict)  # the pod's own, as in its metadata


@dataclass
class CriPod:
    spec: PodSpec
    uid: str
    sandbox_id: str
    container_ids: dict[str, str] = field(default_factory=dict)  # name -> id

    @property
    def cgroup_parent(self) -> str:
        return f"/kubepods/besteffort/pod{self.uid}"


class CriNode:
    """containerd with a config of its own under `lab`; start(), run_pod(), stop()."""

    def __init__(self, lab: Path, socket: str | None = None, state_dir: str | None = None) -> None:
        """`socket` and `state_dir`: where containerd listens and keeps its state, when not
        under `lab` (a distribution's layout: k3s's /run/k3s/containerd, say)."""
        self.lab = lab
        self.socket = socket or str(lab / "containerd.sock")
        self.state_dir = state_dir or str(lab / "state")
        # Directories made outside `lab` for the socket and state, removed on stop.
        self.made_outside: list[Path] = []
        tag = uuid.uuid4().hex[:6]
        self.bridge = f"nsi{tag}"
        self.subnet = f"10.99.{int(tag[:2], 16) % 250 + 1}.0/24"
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None
        self.pods: list[CriPod] = []
        # Everything this node ever made outside its directory, for teardown.
        self.made_uids: list[str] = []
        self.made_netns: list[str] = []
        self.up_seconds = 0.0
        self.down_seconds = 0.0
        self._leftovers: Leftovers | None = None

    # -- start -----------------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        self._leftovers = snapshot_leftovers()
        for sub in ("images", "logs", "pods"):
            (self.lab / sub).mkdir(parents=True, exist_ok=True)
        for path in (Path(self.socket).parent, Path(self.state_dir)):
            self._make_outside(path)
        write_config(self.lab, self.bridge, self.subnet, self.socket, self.state_dir)
        write_oci_archive(
            self.lab / "images" / "pause.tar", PAUSE_IMAGE, pause_content(self.lab / "images")
        )
        write_oci_archive(self.lab / "images" / "busybox.tar", BUSYBOX_IMAGE, busybox_content())
        self.start_daemon()
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        self._wait_ready()
        for image in ("pause.tar", "busybox.tar"):
            self._ctr("images", "import", str(self.lab / "images" / image))
        self.up_seconds = time.monotonic() - started

    def start_daemon(self) -> None:
        """containerd itself, with this node's config (again, after stop_daemon)."""
        log = open(self.lab / "logs" / "containerd.log", "ab")  # noqa: SIM115 - lives with the daemon
        self.process = subprocess.Popen(
            ["containerd", "--config", str(self.lab / "config.toml")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        # CRI specs carry no rlimits: containers inherit the shim's, which inherits containerd's
        # (its shims start later, with the pods). Never more than the hard limit we have.
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.prlimit(self.process.pid, resource.RLIMIT_NOFILE, (hard, hard))

    def stop_daemon(self) -> None:
        """containerd alone (SIGTERM): its shims and containers keep running without it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)

    def restart_daemon(self) -> None:
        self.start_daemon()
        if self.channel is not None:
            self.channel.close()
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        self._wait_ready()

    def _make_outside(self, directory: Path) -> None:
        """Create `directory` if it is outside the lab, remembering the topmost one made."""
        if directory.is_relative_to(self.lab) or directory.exists():
            return
        topmost = directory
        while not topmost.parent.exists():
            topmost = topmost.parent
        directory.mkdir(parents=True)
        self.made_outside.append(topmost)

    def _ctr(self, *args: str) -> None:
        command = ["ctr", "--address", self.socket, "-n", "k8s.io", *args]
        subprocess.run(command, check=True, capture_output=True)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        assert self.channel is not None and self.process is not None
        stub = r_grpc.RuntimeServiceStub(self.channel)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"containerd exited: see {self.lab}/logs/containerd.log")
            try:
                stub.Version(r.VersionRequest(version="v1"), timeout=1)
                return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    # -- pods ------------------------------------------------------------------------------

    def _write(self, method: str, request: Any, response_type: Any) -> Any:
        """One of CRI's changing calls, by its method path (the product's stub only reads)."""
        assert self.channel is not None
        call = self.channel.unary_unary(
            f"/runtime.v1.RuntimeService/{method}",
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        return call(request, timeout=60)

    def sandbox_config(self, spec: PodSpec, uid: str) -> w.PodSandboxConfig:
        labels = spec.labels | {  # kubelet copies the pod's labels and adds its own keys
            "io.kubernetes.pod.name": spec.name,
            "io.kubernetes.pod.namespace": spec.namespace,
            "io.kubernetes.pod.uid": uid,
        }
        log_dir = self.lab / "pods" / f"{spec.namespace}_{spec.name}_{uid}"
        log_dir.mkdir(parents=True, exist_ok=True)
        return w.PodSandboxConfig(
            metadata=r.PodSandboxMetadata(name=spec.name, uid=uid, namespace=spec.namespace),
            # kubelet leaves the hostname empty for hostNetwork pods: runc refuses to set one
            # without a UTS namespace of the pod's own.
            hostname="" if spec.network == "NODE" else spec.name,
            log_directory=str(log_dir),
            labels=labels,
            annotations={"kubernetes.io/config.source": "api"},
            linux=w.LinuxPodSandboxConfig(
                cgroup_parent=f"/kubepods/besteffort/pod{uid}",
                security_context=w.LinuxSandboxSecurityContext(
                    namespace_options=self.namespace_options(spec)
                ),
            ),
        )

    @staticmethod
    def namespace_options(spec: PodSpec) -> r.NamespaceOption:
        return r.NamespaceOption(
            network=MODES[spec.network], pid=MODES[spec.pid], ipc=MODES[spec.ipc]
        )

    def run_pod(self, spec: PodSpec) -> CriPod:
        uid = str(uuid.uuid4())
        config = self.sandbox_config(spec, uid)
        sandbox_id = self._write(
            "RunPodSandbox", w.RunPodSandboxRequest(config=config), w.RunPodSandboxResponse
        ).pod_sandbox_id
        pod = CriPod(spec, uid, sandbox_id)
        self.pods.append(pod)
        self.made_uids.append(uid)
        spec_namespaces = json.loads(self.status(pod).info["info"])["runtimeSpec"]["linux"]
        self.made_netns += [
            n["path"]
            for n in spec_namespaces["namespaces"]
            if n["type"] == "network" and n.get("path")
        ]
        for name, command in spec.containers.items():
            container = w.ContainerConfig(
                metadata=r.ContainerMetadata(name=name),
                image=w.ImageSpec(image=BUSYBOX_IMAGE),
                command=command,
                labels={
                    "io.kubernetes.container.name": name,
                    "io.kubernetes.pod.name": spec.name,
                    "io.kubernetes.pod.namespace": spec.namespace,
                    "io.kubernetes.pod.uid": uid,
                },
                log_path=f"{name}/0.log",
                linux=w.LinuxContainerConfig(
                    security_context=w.LinuxContainerSecurityContext(
                        namespace_options=self.namespace_options(spec)
                    )
                ),
            )
            container_id = self._write(
                "CreateContainer",
                w.CreateContainerRequest(
                    pod_sandbox_id=sandbox_id, config=container, sandbox_config=config
                ),
                w.CreateContainerResponse,
            ).container_id
            self._write(
                "StartContainer",
                w.StartContainerRequest(container_id=container_id),
                w.StartContainerResponse,
            )
            pod.container_ids[name] = container_id
        return pod

    def remove_pod(self, pod: CriPod) -> None:
        self._write(
            "StopPodSandbox",
            w.StopPodSandboxRequest(pod_sandbox_id=pod.sandbox_id),
            w.StopPodSandboxResponse,
        )
        self._write(
            "RemovePodSandbox",
            w.RemovePodSandboxRequest(pod_sandbox_id=pod.sandbox_id),
            w.RemovePodSandboxResponse,
        )
        self.pods.remove(pod)

    def status(self, pod: CriPod) -> r.PodSandboxStatusResponse:
        """The CRI's own answer, for tests to compare against (a read)."""
        assert self.channel is not None
        stub = r_grpc.RuntimeServiceStub(self.channel)
        request = r.PodSandboxStatusRequest(pod_sandbox_id=pod.sandbox_id, verbose=True)
        response: r.PodSandboxStatusResponse = stub.PodSandboxStatus(request, timeout=10)
        return response

    def container_status(self, container_id: str) -> r.ContainerStatusResponse:
        assert self.channel is not None
        stub = r_grpc.RuntimeServiceStub(self.channel)
        request = r.ContainerStatusRequest(container_id=container_id, verbose=True)
        response: r.ContainerStatusResponse = stub.ContainerStatus(request, timeout=10)
        return response

    # -- stop ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Remove the pods over CRI, stop containerd, then clear whatever is left."""
        started = time.monotonic()
        problems: list[str] = []
        for pod in list(self.pods):
            try:
                self.remove_pod(pod)
            except grpc.RpcError as exc:
                problems.append(f"remove {pod.spec.name}: {exc}")
        if self.channel is not None:
            self.channel.close()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        end_processes(self.socket, str(self.lab / "runc"))
        if self._leftovers is not None:
            problems += remove_leftovers(
                self._leftovers, self.made_uids, self.made_netns, self.bridge
            )
        for directory in self.made_outside:
            problems += remove_outside(directory)
        self.down_seconds = time.monotonic() - started
        if problems:
            raise RuntimeError("CRI node teardown: " + "; ".join(problems))
