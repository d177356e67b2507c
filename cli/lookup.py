"""Find one pod by name among the pods of a node, with errors a user can act on."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from .terminal_text import CommandError

PodName = tuple[str, str]  # (namespace, name); "" for no Kubernetes namespace


class PodNotFoundError(CommandError):
    exit_code = 1


class AmbiguousPodError(CommandError):
    exit_code = 1


def pod_label(pod: PodName) -> str:
    namespace, name = pod
    return f"{namespace}/{name}" if namespace else f"{name} (no namespace)"


def find_pod(pods: Sequence[PodName], name: str, namespace: str | None) -> PodName:
    """The pod called `name` (in `namespace` when given); a name unique on the node needs none."""
    candidates = [p for p in pods if p[1] == name and (namespace is None or p[0] == namespace)]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        listed = ", ".join(sorted(pod_label(pod) for pod in candidates))
        choose = "-n NAMESPACE"
        if any(not pod[0] for pod in candidates):
            choose += ' (-n "" for the one with no namespace)'
        raise AmbiguousPodError(
            f'pod name "{name}" is ambiguous on this node: {listed}. Choose one with {choose}.'
        )
    where = f'in namespace "{namespace}"' if namespace is not None else "in any namespace"
    message = f'pod "{name}" not found {where} on this node'
    same_name = [pod for pod in pods if pod[1] == name]
    close = same_name or _close_pods(pods, name)
    if close:
        message += f". Did you mean: {', '.join(sorted(pod_label(pod) for pod in close))}?"
    elif not pods:
        message += " (no pods found at all)"
    raise PodNotFoundError(message)


def _close_pods(pods: Sequence[PodName], name: str) -> list[PodName]:
    """The pods whose name is among the 5 closest to `name` (difflib's, cutoff 0.6): one
    comparison of every pod's name, not one of every pair (seconds at 500 pods)."""
    close = set(difflib.get_close_matches(name, [pod[1] for pod in pods], 5, 0.6))
    return [pod for pod in pods if pod[1] in close]
