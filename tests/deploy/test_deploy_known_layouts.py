"""The agent's table of published layouts (agent/runtimes/layouts.py) against deploy/: every place
the agent knows to look for a Kubernetes runtime is mounted, at /host/<the same path>, by the
kustomization of that layout."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from harness.manifests import LAYOUT_PATHS, host_mounts, render
from nsinspect.agent.model import LocationKind, Runtime
from nsinspect.agent.runtimes.layouts import PUBLISHED_LAYOUTS

pytestmark = pytest.mark.kubectl


def mounted_paths() -> set[str]:
    return {path for layout in LAYOUT_PATHS for path in host_mounts(render(layout))}


def test_every_layout_the_agent_knows_is_mounted_by_a_kustomization() -> None:
    mounted = [PurePosixPath(path) for path in mounted_paths()]
    known = []
    for layout in PUBLISHED_LAYOUTS:
        if layout.runtime is Runtime.PODMAN:
            continue  # not a kubelet's runtime: no DaemonSet on a podman machine
        path = layout.path
        if layout.runtime is Runtime.DOCKER and layout.kind is LocationKind.STATE_DIR:
            path = f"{path}/containers"  # of docker's data root the agent reads only these
        known.append(path)
        assert any(PurePosixPath(path).is_relative_to(m) for m in mounted), (layout, mounted)
    # containerd's default, k3s/RKE2, microk8s, k0s, CRI-O and cri-dockerd: socket and state each
    assert len(known) >= 12, known
