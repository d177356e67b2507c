"""The agent image and the seed pod, shared by the image tests (one build a session)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from harness.daemonset_run import IMAGE, build
from harness.podman import SEED_CONTAINERS, kube_play, pod_yaml

SEED = "my-nginx-pod"


@pytest.fixture(scope="session")
def image() -> str:
    """deploy/image/build.sh's image, built now (seconds with podman's layer cache)."""
    last_line, _ = build()
    assert re.fullmatch(rf"built {re.escape(IMAGE)}: \d+ MB", last_line), last_line
    return IMAGE


@pytest.fixture(scope="session")
def seed_pod() -> Iterator[dict[str, Any]]:
    """The seed example's pod: the one running here is used as it is, else one is played."""
    with kube_play(pod_yaml(SEED, SEED_CONTAINERS)) as inspected:
        yield inspected
