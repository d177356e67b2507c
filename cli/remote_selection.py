"""Label selection in remote mode: the API server selects the pods by their labels (the
`labelSelector` of a pod list, kubectl's -l), and the agents' lists keep only those pods."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from .remote_errors import RemoteError


class Selection(msgspec.Struct, frozen=True):
    keys: frozenset[str]  # the selected pods, `namespace/name` (a PodIdentity's key)
    nodes: frozenset[str]  # the nodes they run on: only those agents are asked

    @classmethod
    def of(cls, data: bytes) -> Selection:
        """The selection an API PodList (its JSON) holds. Read as JSON, not as the official
        client's models, which refuse a whole list for one pod they cannot build."""
        try:
            listing: Any = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RemoteError("the API server's pod list is not JSON") from exc
        keys: set[str] = set()
        nodes: set[str] = set()
        items = listing.get("items") if isinstance(listing, dict) else None
        for pod in items if isinstance(items, list) else []:
            metadata, spec = _fields(pod, "metadata"), _fields(pod, "spec")
            namespace, name, node = (
                metadata.get("namespace"),
                metadata.get("name"),
                spec.get("nodeName"),
            )
            if isinstance(namespace, str) and isinstance(name, str) and name:
                keys.add(f"{namespace}/{name}")
                if isinstance(node, str) and node:
                    nodes.add(node)
        return cls(frozenset(keys), frozenset(nodes))


def _fields(pod: Any, key: str) -> dict[str, Any]:
    value = pod.get(key) if isinstance(pod, dict) else None
    return value if isinstance(value, dict) else {}
