"""The names kubelet's dockershim (now cri-dockerd) and CRI-O give containers, and the labels
kubelet adds to a pod's sandbox."""

from __future__ import annotations

import re
from collections.abc import Mapping
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


# What kubelet (and the runtimes after it) add to a sandbox's labels besides the pod's own:
# the pod's identity, CRI-O's infra container name, cri-dockerd's container type.
_ADDED_LABELS = frozenset(
    {
        "io.kubernetes.pod.name",
        "io.kubernetes.pod.namespace",
        "io.kubernetes.pod.uid",
        "io.kubernetes.container.name",
        "io.kubernetes.docker.type",
    }
)
# cri-dockerd keeps the sandbox's annotations among docker's labels under this prefix.
_DOCKER_ANNOTATION_PREFIX = "annotation."


def pod_labels(sandbox_labels: Mapping[str, str]) -> dict[str, str]:
    """The pod's own labels (as the API shows them) from its sandbox's: kubelet copies the
    pod's labels to the sandbox and adds the keys above."""
    return {
        key: value
        for key, value in sandbox_labels.items()
        if key not in _ADDED_LABELS and not key.startswith(_DOCKER_ANNOTATION_PREFIX)
    }
