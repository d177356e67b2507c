"""Session fixtures for the real CRI node: containerd starts once per test session.

Registered as a pytest plugin from tests/conftest.py. The node's timings (containerd up, pods
created, everything down) are printed in the terminal summary.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from harness.cri_node import CriNode, CriPod, PodSpec

SEED_CONTAINERS = {
    "my-nginx-container": ["httpd", "-f", "-p", "80"],
    "ubuntu-sidecar-container": ["tail", "-f", "/dev/null"],
}
# The pods every CRI test shares; names distinct from podman's demo pods except the seed's,
# which lives in namespace `default` (podman's pods have none).
POD_SPECS = {
    "seed": PodSpec("my-nginx-pod", SEED_CONTAINERS, network="POD", ipc="POD", pid="CONTAINER"),
    "shared-pid": PodSpec(
        "nsi-shared-pid",
        {"app": ["tail", "-f", "/dev/null"], "sidecar": ["tail", "-f", "/dev/null"]},
        pid="POD",
    ),
    "host-network": PodSpec(
        "nsi-host-network", {"app": ["tail", "-f", "/dev/null"]}, network="NODE"
    ),
    "host-pid-ipc": PodSpec(
        "nsi-host-pid-ipc", {"app": ["tail", "-f", "/dev/null"]}, pid="NODE", ipc="NODE"
    ),
}

TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def cri_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CriNode]:
    node = CriNode(tmp_path_factory.mktemp("cri"))
    try:
        node.start()
        TIMINGS["up"] = node.up_seconds
        yield node
    finally:
        node.stop()
        TIMINGS["down"] = node.down_seconds


@pytest.fixture(scope="session")
def cri_pods(cri_node: CriNode) -> dict[str, CriPod]:
    """The four pods of the issue, created over CRI as kubelet does; removed with the node."""
    started = time.monotonic()
    pods = {key: cri_node.run_pod(spec) for key, spec in POD_SPECS.items()}
    TIMINGS["pods"] = time.monotonic() - started
    return pods


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        parts = [f"{what} {seconds:.2f} s" for what, seconds in TIMINGS.items()]
        terminalreporter.write_line(
            f"CRI test node (containerd): {', '.join(parts)} "
            "(up: start + image import; pods: 4 pods created; down: pods removed + teardown)"
        )
