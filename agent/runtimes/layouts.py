"""Where the runtimes live on the distributions people run: tried where present, no process needed.

A runtime's own process says where it is (locations.py); these are the places to look when no
process could be read (the agent without hostPID, a runtime between restarts). Each entry is a node
path; it is used only when it exists on the node. Talos, kind and the managed clouds' node images
(EKS, GKE, AKS) run containerd with its defaults; OpenShift runs CRI-O with its defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import FoundBy, LocationKind, Runtime
from .containerd import DEFAULT_STATE
from .cridockerd import DEFAULT_DATA_ROOT
from .crio import DEFAULT_RUN_ROOT

CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
CRIO_SOCKET = "/run/crio/crio.sock"
CRI_DOCKERD_SOCKET = "/run/cri-dockerd.sock"
PODMAN_GRAPH_ROOT = "/var/lib/containers/storage"

CRI = LocationKind.CRI_SOCKET
STATE = LocationKind.STATE_DIR


@dataclass(frozen=True, slots=True)
class PublishedLayout:
    runtime: Runtime
    kind: LocationKind
    path: str
    found_by: FoundBy  # DEFAULT: the runtime's own default; LAYOUT: a distribution's


def _default(runtime: Runtime, kind: LocationKind, path: str) -> PublishedLayout:
    return PublishedLayout(runtime, kind, path, FoundBy.DEFAULT)


def _layout(runtime: Runtime, kind: LocationKind, path: str) -> PublishedLayout:
    return PublishedLayout(runtime, kind, path, FoundBy.LAYOUT)


CONTAINERD, CRIO, DOCKER = Runtime.CONTAINERD, Runtime.CRIO, Runtime.DOCKER

PUBLISHED_LAYOUTS: tuple[PublishedLayout, ...] = (
    # containerd's defaults: kubeadm nodes, Talos, kind, EKS, GKE and AKS node images.
    _default(CONTAINERD, CRI, CONTAINERD_SOCKET),
    _default(CONTAINERD, STATE, DEFAULT_STATE),
    # k3s and RKE2: containerd run by the k3s/rke2 binary with `-a /run/k3s/containerd/
    # containerd.sock --state /run/k3s/containerd` (RKE2 reuses k3s's agent code and paths).
    _layout(CONTAINERD, CRI, "/run/k3s/containerd/containerd.sock"),
    _layout(CONTAINERD, STATE, "/run/k3s/containerd"),
    # microk8s (snap): containerd's socket and state under the snap's common/run.
    _layout(CONTAINERD, CRI, "/var/snap/microk8s/common/run/containerd.sock"),
    _layout(CONTAINERD, STATE, "/var/snap/microk8s/common/run/containerd"),
    # k0s: `/var/lib/k0s/bin/containerd --state=/run/k0s/containerd
    # --address=/run/k0s/containerd.sock` (k0s docs, "Runtime").
    _layout(CONTAINERD, CRI, "/run/k0s/containerd.sock"),
    _layout(CONTAINERD, STATE, "/run/k0s/containerd"),
    # CRI-O's defaults, OpenShift's too: its socket, and containers/storage's run root.
    _default(CRIO, CRI, CRIO_SOCKET),
    _default(CRIO, STATE, DEFAULT_RUN_ROOT),
    # cri-dockerd (Mirantis) with docker's data root: nodes that kept dockershim's way.
    _default(DOCKER, CRI, CRI_DOCKERD_SOCKET),
    _default(DOCKER, STATE, DEFAULT_DATA_ROOT),
    # podman's rootful storage: not a kubelet runtime, but pods on the same machine.
    _default(Runtime.PODMAN, STATE, PODMAN_GRAPH_ROOT),
)
