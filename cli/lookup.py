"""Find one pod by name in a PodList, with errors a user can act on."""

from __future__ import annotations

import difflib
from typing import Any

import click


class PodNotFound(click.ClickException):
    exit_code = 1


class AmbiguousPod(click.ClickException):
    exit_code = 1


def pod_label(item: dict[str, Any]) -> str:
    pod = item["pod"]
    return (
        f"{pod['namespace']}/{pod['name']}" if pod["namespace"] else f"{pod['name']} (no namespace)"
    )


def find_pod(items: list[dict[str, Any]], name: str, namespace: str | None) -> dict[str, Any]:
    """The pod called `name` (in `namespace` when given); a name unique on the node needs none."""
    candidates = [
        item
        for item in items
        if item["pod"]["name"] == name
        and (namespace is None or item["pod"]["namespace"] == namespace)
    ]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        listed = ", ".join(sorted(pod_label(item) for item in candidates))
        raise AmbiguousPod(
            f'pod name "{name}" is ambiguous on this node: {listed}. Choose one with -n NAMESPACE.'
        )
    where = f'in namespace "{namespace}"' if namespace is not None else "in any namespace"
    message = f'pod "{name}" not found {where} on this node'
    same_name = [item for item in items if item["pod"]["name"] == name]
    close = same_name or [
        item
        for item in items
        if item["pod"]["name"]
        in difflib.get_close_matches(name, [i["pod"]["name"] for i in items], 5, 0.6)
    ]
    if close:
        message += f". Did you mean: {', '.join(sorted(pod_label(item) for item in close))}?"
    elif not items:
        message += " (no pods found at all)"
    raise PodNotFound(message)
