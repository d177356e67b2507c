"""A read-only CRI client: the calls nsinspect makes, each with a short deadline.

The agent runs beside kubelet on a live node, so every call has a deadline of its own (two seconds
by default) and none waits for the socket to become ready: a runtime that is down or hung costs
one short wait per scan and becomes a scan error, never a stuck scan. Only calls that read exist
here; the stub generated from nsinspect's proto has no others.
"""

from __future__ import annotations

from typing import Any

import grpc

from .cri_api import runtime_v1_pb2 as cri
from .cri_api.runtime_v1_pb2_grpc import RuntimeServiceStub

DEFAULT_TIMEOUT = 2.0
API_VERSION = "v1"
# A node's full sandbox or container list can exceed gRPC's default 4 MiB.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def describe(error: grpc.RpcError) -> str:
    """A short reason for a failed call, such as `UNAVAILABLE: connection refused`."""
    code = error.code() if isinstance(error, grpc.Call) else None
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    reason = f"{code.name}: {details}" if code is not None else str(details)
    return reason.splitlines()[0][:200] if reason else "CRI call failed"


class CriClient:
    """One runtime's CRI socket. Calls raise grpc.RpcError on any failure."""

    def __init__(self, socket_path: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._channel = grpc.insecure_channel(
            f"unix://{socket_path}",
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)],
        )
        # grpcio-tools writes no type stubs for the service; the messages are typed.
        self._stub: Any = RuntimeServiceStub(self._channel)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self._channel.close()

    def version(self) -> cri.VersionResponse:
        response: cri.VersionResponse = self._stub.Version(
            cri.VersionRequest(version=API_VERSION), timeout=self.timeout
        )
        return response

    def list_sandboxes(self) -> list[cri.PodSandbox]:
        response: cri.ListPodSandboxResponse = self._stub.ListPodSandbox(
            cri.ListPodSandboxRequest(), timeout=self.timeout
        )
        return list(response.items)

    def list_containers(self) -> list[cri.Container]:
        response: cri.ListContainersResponse = self._stub.ListContainers(
            cri.ListContainersRequest(), timeout=self.timeout
        )
        return list(response.containers)

    def sandbox_status(self, sandbox_id: str) -> cri.PodSandboxStatusResponse:
        response: cri.PodSandboxStatusResponse = self._stub.PodSandboxStatus(
            cri.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True),
            timeout=self.timeout,
        )
        return response

    def container_status(self, container_id: str) -> cri.ContainerStatusResponse:
        response: cri.ContainerStatusResponse = self._stub.ContainerStatus(
            cri.ContainerStatusRequest(container_id=container_id, verbose=True),
            timeout=self.timeout,
        )
        return response
