"""deploy/'s kustomizations as kubectl renders them: the documents the deploy tests read."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUSTOMIZATIONS = ("base", "overlays/prometheus-operator", "overlays/sys-admin", "grafana")
# Where deploy/unpack-kubectl-1.20.sh unpacks Debian's kubectl 1.20 (kustomize v2.0.3) on
# machines whose own kubectl is newer: the oldest renderer the manifests promise to work with.
LEGACY_KUBECTL = Path("/var/cache/nsinspect/kubectl-1.20/usr/bin/kubectl")

Document = dict[str, Any]


@functools.cache
def kubectls() -> dict[str, str]:
    """Every kubectl at hand, by its version ("kubectl-1.20"): the one on PATH, and Debian's 1.20
    where deploy/unpack-kubectl-1.20.sh unpacked it."""
    found = {}
    for candidate in (shutil.which("kubectl"), str(LEGACY_KUBECTL)):
        if candidate and os.access(candidate, os.X_OK):
            done = subprocess.run(
                [candidate, "version", "--client", "-o", "json"],
                capture_output=True,
                text=True,
                check=True,
            )
            client = json.loads(done.stdout)["clientVersion"]
            found[f"kubectl-{client['major']}.{client['minor'].rstrip('+')}"] = candidate
    return found


@functools.cache
def render(kustomization: str, kubectl: str = "kubectl") -> tuple[Document, ...]:
    """`kubectl kustomize deploy/<kustomization>`; fails the test on any error."""
    done = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / kustomization)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def of_kind(documents: tuple[Document, ...], kind: str) -> list[Document]:
    return [doc for doc in documents if doc["kind"] == kind]


def only(documents: tuple[Document, ...], kind: str) -> Document:
    found = of_kind(documents, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def agent_pod_spec(documents: tuple[Document, ...]) -> Document:
    spec: Document = only(documents, "DaemonSet")["spec"]["template"]["spec"]
    return spec


def agent_container(documents: tuple[Document, ...]) -> Document:
    containers = agent_pod_spec(documents)["containers"]
    assert [c["name"] for c in containers] == ["nsinspect"]
    container: Document = containers[0]
    return container
