"""The names kubelet's dockershim (now cri-dockerd) and CRI-O give containers."""

from __future__ import annotations

import re
from dataclasses import dataclass

_KUBELET_NAME = re.compile(
    r"^/?k8s_(?P<container>[^_]+)_(?P<pod>[^_]+)_(?P<namespace>[^_]+)_(?P<uid>[^_]+)_\d+$"
)


@dataclass(frozen=True, slots=True)
class KubeletName:
    """The parts of `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`."""

    container: str  # "POD" for the sandbox
    pod: str
    namespace: str
    uid: str


def parse_kubelet_name(name: str) -> KubeletName | None:
    """The parts of a kubelet-style name, or None: Kubernetes names hold no `_`."""
    found = _KUBELET_NAME.match(name)
    if found is None:
        return None
    return KubeletName(found["container"], found["pod"], found["namespace"], found["uid"])
