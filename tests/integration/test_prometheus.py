"""A real Prometheus scrapes a real agent while the seed pod runs, then after it is removed.

The seed pod here is a containerd pod made over CRI (kubelet's way) in a namespace of its own,
so the test can remove it without touching a demo pod of the same name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.agent_process import start_agent
from harness.cri_fixtures import SEED_CONTAINERS
from harness.cri_node import CriNode, PodSpec
from harness.prometheus import prometheus_scraping, query, wait_for_query

pytestmark = [pytest.mark.root, pytest.mark.containerd, pytest.mark.prometheus]

NAMESPACE = "prom-test"
SHARED = (
    "nsinspect_container_namespace_shared"
    f'{{{{namespace="{NAMESPACE}",pod="my-nginx-pod",container="{{container}}",ns_type="{{ns_type}}"}}}}'
)


def test_prometheus_sees_the_sharing_and_forgets_a_removed_pod(
    tmp_path: Path, cri_node: CriNode
) -> None:
    agent = start_agent(
        tmp_path,
        interval=1.0,
        global_args=("--cri-socket", cri_node.socket,
                     "--runtime-state", f"containerd={cri_node.state_dir}"),
    )  # fmt: skip
    seed = cri_node.run_pod(PodSpec("my-nginx-pod", SEED_CONTAINERS, namespace=NAMESPACE))
    try:
        agent.wait_ready()
        with prometheus_scraping(tmp_path, f"127.0.0.1:{agent.port}") as prometheus:
            net = SHARED.format(container="ubuntu-sidecar-container", ns_type="net")
            pid = SHARED.format(container="ubuntu-sidecar-container", ns_type="pid")
            assert wait_for_query(prometheus, f"{net} == 1")
            assert query(prometheus, f"{pid} == 0")
            assert query(prometheus, pid)[0]["value"][1] == "0"
            # The node label comes from the scrape config, not from the agent.
            [series] = query(prometheus, net)
            assert series["metric"]["node"] == "test-node"
            assert series["metric"]["job"] == "nsinspect"
            info = query(prometheus, f'nsinspect_pod_sandbox_info{{namespace="{NAMESPACE}"}}')
            assert info[0]["metric"]["runtime"] == "containerd"
            assert info[0]["metric"]["uid"] == seed.uid
            assert info[0]["metric"]["sandbox_process"] == "present"

            cri_node.remove_pod(seed)
            # Gone from the next scan, so the next scrape marks the series stale.
            wait_for_query(prometheus, net, want_empty=True, timeout=30)
            assert not query(prometheus, f'nsinspect_pod_sandbox_info{{namespace="{NAMESPACE}"}}')
            assert query(prometheus, "nsinspect_scan_duration_seconds_count > 0")
            assert query(prometheus, "nsinspect_build_info == 1")
    finally:
        if seed in cri_node.pods:
            cri_node.remove_pod(seed)
        agent.stop()
