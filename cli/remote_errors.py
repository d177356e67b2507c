"""The remote mode's errors: each a sentence saying what was being done and why it failed."""

from __future__ import annotations

import contextlib
import json

from .terminal_text import CommandError


class RemoteError(CommandError):
    exit_code = 1


class AccessRefusedError(RemoteError):
    """RBAC or the agent said no: the same answer on every node, so a list fails with it."""


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
