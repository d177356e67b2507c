"""The CRI as a runtime resolver: when its socket answers, it decides who a container is.

Each scan lists the ready sandboxes and running containers (two calls); the verbose status of a
sandbox or container is asked once, when its id is first listed, since nothing nsinspect reads
from it changes while the id lives. A socket that is absent is silent unless it was asked for
explicitly; one that does not answer becomes a ScanError of stage `cri`, and the on-disk
resolvers and cgroups decide for that scan.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TypeVar

import grpc

from ..model import ContainerIdentity, Runtime, ScanError, ScanStage
from .cgroups import CgroupMatch
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


class CriResolver:
    def __init__(
        self,
        socket_path: str,
        shown_as: str = "",
        required: bool = False,
        client_factory: Callable[[str], CriClient] = CriClient,
    ) -> None:
        """`socket_path` as this process reaches it (under the host root); `shown_as`: the
        node's path, for names and errors; `required`: a missing socket is an error."""
        self.socket_path = socket_path
        self.shown_as = shown_as or socket_path
        self.name = f"cri:{self.shown_as}"
        self.required = required
        self._client_factory = client_factory
        self._client: CriClient | None = None
        self.runtime: Runtime | None = None
        self._identities: dict[str, ContainerIdentity] = {}

    def available(self) -> bool:
        return self.required or os.path.exists(self.socket_path)

    def refresh(self, errors: list[ScanError]) -> bool:
        if not os.path.exists(self.socket_path):
            errors.append(ScanError(STAGE, "no such socket", path=self.shown_as))
            self._identities = {}
            return False
        try:
            self._identities = self._read(errors)
        except grpc.RpcError as exc:
            errors.append(ScanError(STAGE, describe(exc), path=self.shown_as))
            self._identities = {}
            self._disconnect()
            return False
        return True

    def identify(self, match: CgroupMatch, errors: list[ScanError]) -> ContainerIdentity | None:
        return self._identities.get(match.container_id)

    def _disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
        self.runtime = None

    def _read(self, errors: list[ScanError]) -> dict[str, ContainerIdentity]:
        if self._client is None:
            self._client = self._client_factory(self.socket_path)
        client = self._client
        if self.runtime is None:
            # A CRI runtime of another name is still a CRI runtime: `cri`.
            self.runtime = RUNTIME_NAMES.get(client.version().runtime_name.lower(), Runtime.CRI)
        runtime = self.runtime
        sandboxes = [s for s in client.list_sandboxes() if s.state == cri.SANDBOX_READY]
        containers = [c for c in client.list_containers() if c.state == cri.CONTAINER_RUNNING]
        identities: dict[str, ContainerIdentity] = {}
        for sandbox in sandboxes:
            known = self._identities.get(sandbox.id)
            if known is None:
                sandbox_status = self._status(client.sandbox_status, sandbox.id, errors)
                if sandbox_status is None:
                    continue
                verbose = self._verbose(sandbox_status.info, sandbox.id, errors)
                known = sandbox_identity(runtime, sandbox, sandbox_status, verbose)
            identities[sandbox.id] = known
        for container in containers:
            known = self._identities.get(container.id)
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
