"""The remote mode's errors: each a sentence saying what was being done and why it failed."""

from __future__ import annotations

import contextlib
import json

from .terminal_text import CommandError


class RemoteError(CommandError):
    exit_code = 1


class AccessRefusedError(RemoteError):
    """RBAC or the agent said no: the same answer on every node, so a list fails with it."""


class AgentSilentError(RemoteError):
    """The agent's port gave no answer; `why` says it without naming the node, for the lists'
    `unreachable` (node -> why)."""

    def __init__(self, node: str, port: int, reason: str) -> None:
        self.why = f"nothing answered on 127.0.0.1:{port} ({reason})"
        super().__init__(f"the agent on node {node} did not answer on 127.0.0.1:{port} ({reason})")


def explain(exc: Exception, doing: str) -> RemoteError:
    """A clear error for an API call that failed."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        message = exc.reason or ""
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            message = json.loads(exc.body or "{}").get("message", message)
        if exc.status == 403:
            return RemoteError(f"{doing}: forbidden by RBAC: {message}")
        if exc.status == 401:
            return RemoteError(f"{doing}: unauthorized: the kubeconfig's credentials were refused")
        return RemoteError(f"{doing}: the API server answered {exc.status}: {message}")
    text = str(exc)
    if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
        return RemoteError(f"{doing}: timed out talking to the API server")
    return RemoteError(f"{doing}: cannot reach the API server ({type(exc).__name__}: {text[:200]})")
