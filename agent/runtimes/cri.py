"""The CRI as a runtime resolver: when its socket answers, it decides who a container is.

A socket that is absent is silent unless it was asked for explicitly; one that does not answer
becomes a ScanError of stage `cri`, and the on-disk resolvers and cgroups decide for that scan.
The gRPC side (`cri_session`) is loaded on the first scan that finds the socket: grpc and
protobuf cost ~80 ms of start-up, which a node without a CRI socket never pays.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..model import ContainerIdentity, ScanError, ScanStage
from .cgroups import CgroupMatch

if TYPE_CHECKING:
    from .cri_client import CriClient
    from .cri_session import CriSession


class CriResolver:
    def __init__(
        self,
        socket_path: str,
        shown_as: str = "",
        required: bool = False,
        client_factory: Callable[[str], CriClient] | None = None,
    ) -> None:
        """`socket_path` as this process reaches it (under the host root); `shown_as`: the
        node's path, for names and errors; `required`: a missing socket is an error."""
        self.socket_path = socket_path
        self.shown_as = shown_as or socket_path
        self.name = f"cri:{self.shown_as}"
        self.required = required
        self._client_factory = client_factory
        self._session: CriSession | None = None
        self._identities: dict[str, ContainerIdentity] = {}

    def available(self) -> bool:
        return self.required or os.path.exists(self.socket_path)

    def refresh(self, errors: list[ScanError]) -> bool:
        if not os.path.exists(self.socket_path):
            errors.append(ScanError(ScanStage.CRI, "no such socket", path=self.shown_as))
            self._identities = {}
            return False
        session = self._session or self._connect()
        identities = session.read(self._identities, errors)
        if identities is None:
            session.close()
            self._session, self._identities = None, {}
            return False
        self._session, self._identities = session, identities
        return True

    def identify(self, match: CgroupMatch, errors: list[ScanError]) -> ContainerIdentity | None:
        return self._identities.get(match.container_id)

    def _connect(self) -> CriSession:
        from .cri_client import CriClient
        from .cri_session import CriSession

        factory = self._client_factory or CriClient
        return CriSession(factory(self.socket_path), self.shown_as)
