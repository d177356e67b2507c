"""One connection to a CRI socket, and what it lists each scan: the part of the CRI resolver that
speaks gRPC, loaded only where a CRI socket exists.

Each scan lists the ready sandboxes and running containers (two calls); the verbose status of a
sandbox or container is asked once, when its id is first listed, since nothing nsinspect reads
from it changes while the id lives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import grpc

from ..model import ContainerIdentity, Runtime, ScanError, ScanStage
from .cri_api import runtime_v1_pb2 as cri
from .cri_client import CriClient, describe
from .cri_identity import (
    VerboseInfo,
    container_identity,
    parse_verbose_info,
    sandbox_identity,
)

# Version's runtime_name -> the runtime names nsinspect uses elsewhere.
RUNTIME_NAMES = {"containerd": Runtime.CONTAINERD, "cri-o": Runtime.CRIO, "docker": Runtime.DOCKER}
STAGE = ScanStage.CRI
Status = TypeVar("Status", cri.PodSandboxStatusResponse, cri.ContainerStatusResponse)


class CriSession:
    def __init__(self, client: CriClient, shown_as: str) -> None:
        """`shown_as`: the socket's node path, for errors."""
        self._client = client
        self.shown_as = shown_as
        self.runtime: Runtime | None = None

    def close(self) -> None:
        self._client.close()

    def read(
        self, known: Mapping[str, ContainerIdentity], errors: list[ScanError]
    ) -> dict[str, ContainerIdentity] | None:
        """Container id -> identity of everything running; `known` are the previous scan's, not
        asked again. None when the runtime did not answer (the reason appended to `errors`)."""
        try:
            return self._read(known, errors)
        except grpc.RpcError as exc:
            errors.append(ScanError(STAGE, describe(exc), path=self.shown_as))
            return None

    def _read(
        self, previous: Mapping[str, ContainerIdentity], errors: list[ScanError]
    ) -> dict[str, ContainerIdentity]:
        client = self._client
        if self.runtime is None:
            # A CRI runtime of another name is still a CRI runtime: `cri`.
            self.runtime = RUNTIME_NAMES.get(client.version().runtime_name.lower(), Runtime.CRI)
        runtime = self.runtime
        sandboxes = [s for s in client.list_sandboxes() if s.state == cri.SANDBOX_READY]
        containers = [c for c in client.list_containers() if c.state == cri.CONTAINER_RUNNING]
        identities: dict[str, ContainerIdentity] = {}
        for sandbox in sandboxes:
            known = previous.get(sandbox.id)
            if known is None:
                sandbox_status = self._status(client.sandbox_status, sandbox.id, errors)
                if sandbox_status is None:
                    continue
                verbose = self._verbose(sandbox_status.info, sandbox.id, errors)
                known = sandbox_identity(runtime, sandbox, sandbox_status, verbose)
            identities[sandbox.id] = known
        for container in containers:
            known = previous.get(container.id)
            if known is None:
                container_status = self._status(client.container_status, container.id, errors)
                if container_status is None:
                    continue
                verbose = self._verbose(container_status.info, container.id, errors)
                pod = identities.get(container.pod_sandbox_id)
                known = container_identity(runtime, container, verbose, pod)
            identities[container.id] = known
        return identities

    def _verbose(
        self, info: Mapping[str, str], item_id: str, errors: list[ScanError]
    ) -> VerboseInfo:
        verbose = parse_verbose_info(info)
        if verbose.malformed:
            errors.append(
                ScanError(STAGE, f"{item_id[:12]}: malformed verbose info", path=self.shown_as)
            )
        return verbose

    def _status(
        self, call: Callable[[str], Status], item_id: str, errors: list[ScanError]
    ) -> Status | None:
        """One verbose status; an item removed since the list call is simply skipped."""
        try:
            return call(item_id)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            if code == grpc.StatusCode.NOT_FOUND:
                return None
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise  # the runtime itself is gone or hung: give up on it for this scan
            errors.append(ScanError(STAGE, f"{item_id[:12]}: {describe(exc)}", path=self.shown_as))
            return None
