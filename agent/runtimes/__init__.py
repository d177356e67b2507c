"""One resolver per container runtime, behind the `RuntimeResolver` interface."""

from __future__ import annotations

from nsinspect.agent.runtimes.base import RuntimeResolver
from nsinspect.agent.runtimes.podman import PodmanResolver


def default_resolvers(host_root: str = "/") -> list[RuntimeResolver]:
    """Every runtime nsinspect knows, reading its state under `host_root`."""
    return [PodmanResolver(host_root)]
