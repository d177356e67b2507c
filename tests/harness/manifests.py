"""deploy/'s kustomizations as kubectl renders them: the documents the deploy tests read."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from harness.kubectl import kubectl_candidates, kubectl_path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# Where each node layout keeps its runtime's CRI socket and state, as the distributions document
# them (k3s/RKE2 docs "CLI tools", microk8s default-args/containerd, k0s docs "Runtime", CRI-O and
# cri-dockerd defaults): what the agent must see at /host/<the same path>. "base" is containerd at
# its defaults.
LAYOUT_PATHS: dict[str, tuple[str, ...]] = {
    "base": ("/run/containerd/containerd.sock", "/run/containerd"),
    "overlays/k3s": ("/run/k3s/containerd/containerd.sock", "/run/k3s/containerd"),
    "overlays/rke2": ("/run/k3s/containerd/containerd.sock", "/run/k3s/containerd"),
    "overlays/microk8s": (
        "/var/snap/microk8s/common/run/containerd.sock",
        "/var/snap/microk8s/common/run/containerd",
    ),
    "overlays/k0s": ("/run/k0s/containerd.sock", "/run/k0s/containerd"),
    "overlays/cri-o": (
        "/run/crio/crio.sock",
        "/run/containers/storage",
        "/var/lib/containers/storage",
    ),
    "overlays/cri-dockerd": ("/run/cri-dockerd.sock", "/var/lib/docker/containers"),
}
LAYOUT_OVERLAYS = tuple(k for k in LAYOUT_PATHS if k != "base")
KUSTOMIZATIONS = (
    "base",
    "overlays/prometheus-operator",
    "overlays/hardened",
    "overlays/seccomp",
    "overlays/sys-admin",
    *LAYOUT_OVERLAYS,
    "grafana",
)
AGENT_KUSTOMIZATIONS = tuple(k for k in KUSTOMIZATIONS if k != "grafana")
# The image tests' layout (podman's storage, see its kustomization): an absolute path, which
# render() takes as it takes deploy/'s names.
PODMAN_NODE = str(REPO / "tests" / "deploy" / "podman-node")

Document = dict[str, Any]


@functools.cache
def kubectls() -> dict[str, str]:
    """Every kubectl at hand, by its version ("kubectl-1.37"): the tests' own (harness.kubectl)
    and the one on PATH when that is another version."""
    found: dict[str, str] = {}
    for candidate in kubectl_candidates():
        done = subprocess.run(
            [candidate, "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        )
        client = json.loads(done.stdout)["clientVersion"]
        found.setdefault(f"kubectl-{client['major']}.{client['minor'].rstrip('+')}", candidate)
    return found


@functools.cache
def render(kustomization: str, kubectl: str | None = None) -> tuple[Document, ...]:
    """`kubectl kustomize deploy/<kustomization>` (harness.kubectl's unless another is named);
    fails the test on any error or warning."""
    done = subprocess.run(
        [kubectl or kubectl_path() or "kubectl", "kustomize", str(DEPLOY / kustomization)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not done.stderr, done.stderr  # kubectl's deprecation warnings among them
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def host_mounts(documents: tuple[Document, ...]) -> dict[str, tuple[Document, Document]]:
    """The scanner's hostPath volumes by their node path: (hostPath, volumeMount)."""
    pod = agent_pod_spec(documents)
    volumes = {v["name"]: v["hostPath"] for v in pod["volumes"] if "hostPath" in v}
    return {
        volumes[m["name"]]["path"]: (volumes[m["name"]], m)
        for m in scanner_container(documents)["volumeMounts"]
        if m["name"] in volumes
    }


def of_kind(documents: tuple[Document, ...], kind: str) -> list[Document]:
    return [doc for doc in documents if doc["kind"] == kind]


def only(documents: tuple[Document, ...], kind: str) -> Document:
    found = of_kind(documents, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def agent_pod_spec(documents: tuple[Document, ...]) -> Document:
    spec: Document = only(documents, "DaemonSet")["spec"]["template"]["spec"]
    return spec


# The agent pod's containers, in their order: the privileged scanner, the unprivileged server.
CONTAINERS = ("scanner", "server")


def agent_containers(documents: tuple[Document, ...]) -> dict[str, Document]:
    """The agent pod's containers by name; fails unless they are exactly CONTAINERS."""
    containers = agent_pod_spec(documents)["containers"]
    assert tuple(c["name"] for c in containers) == CONTAINERS
    return {c["name"]: c for c in containers}


def scanner_container(documents: tuple[Document, ...]) -> Document:
    return agent_containers(documents)["scanner"]


def server_container(documents: tuple[Document, ...]) -> Document:
    return agent_containers(documents)["server"]


def volume(documents: tuple[Document, ...], name: str) -> Document:
    [found] = [v for v in agent_pod_spec(documents)["volumes"] if v["name"] == name]
    return found
