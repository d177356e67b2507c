"""Where the server's credentials for TokenReview and SubjectAccessReview come from: the pod's
service account in a cluster, or a JSON object the parent writes on a pipe
(`--kube-credentials-fd`), since uid 65534 cannot read root's kubeconfig. The calls themselves go
through exchange/kube_api, on the standard library (the official client would cost the server
more memory than its whole budget)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..exchange.kube_api import SERVICE_ACCOUNT, ApiCredentials

MAX_CREDENTIALS_BYTES = 1024 * 1024


class CredentialsError(Exception):
    """The credentials given cannot be used; the message says why."""


def credentials_from_fd(fd: int) -> ApiCredentials:
    """The JSON object the parent wrote on the pipe `fd` (read to its end, then closed)."""
    try:
        with os.fdopen(fd, "rb") as pipe:
            raw = pipe.read(MAX_CREDENTIALS_BYTES + 1)
    except OSError as exc:
        raise CredentialsError(f"cannot read credentials from fd {fd}: {exc.strerror}") from exc
    if len(raw) > MAX_CREDENTIALS_BYTES:
        raise CredentialsError(f"the credentials on fd {fd} exceed {MAX_CREDENTIALS_BYTES} bytes")
    try:
        return ApiCredentials.from_json(json.loads(raw))
    except ValueError as exc:
        raise CredentialsError(f"the credentials on fd {fd} are malformed: {exc}") from exc


def in_cluster_credentials(account: Path = SERVICE_ACCOUNT) -> ApiCredentials | None:
    """The pod's service account; None outside a cluster (no service host, no token)."""
    if not os.environ.get("KUBERNETES_SERVICE_HOST") or not (account / "token").exists():
        return None
    try:
        return ApiCredentials.in_cluster(account)
    except ValueError as exc:
        raise CredentialsError(str(exc)) from exc
