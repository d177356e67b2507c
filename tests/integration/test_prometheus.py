"""A real Prometheus scrapes a real agent while the seed pod runs, then after it is removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.agent_process import start_agent
from harness.podman import SEED_CONTAINERS, kube_play, pod_running, pod_yaml, remove_pod
from harness.prometheus import prometheus_scraping, query, wait_for_query

pytestmark = [pytest.mark.root, pytest.mark.podman, pytest.mark.prometheus]

SHARED = (
    "nsinspect_container_namespace_shared"
    '{{pod="my-nginx-pod",container="{container}",ns_type="{ns_type}"}}'
)


def test_prometheus_sees_the_sharing_and_forgets_a_removed_pod(tmp_path: Path) -> None:
    if pod_running("my-nginx-pod"):
        pytest.skip("my-nginx-pod already runs (a demo?): this test must create and remove its own")
    agent = start_agent(tmp_path, interval=1.0)
    try:
        agent.wait_ready()
        with prometheus_scraping(tmp_path, f"127.0.0.1:{agent.port}") as prometheus:
            with kube_play(pod_yaml("my-nginx-pod", SEED_CONTAINERS)):
                net = SHARED.format(container="ubuntu-sidecar-container", ns_type="net")
                pid = SHARED.format(container="ubuntu-sidecar-container", ns_type="pid")
                assert wait_for_query(prometheus, f"{net} == 1")
                assert query(prometheus, f"{pid} == 0")
                assert query(prometheus, pid)[0]["value"][1] == "0"
                # The node label comes from the scrape config, not from the agent.
                [series] = query(prometheus, net)
                assert series["metric"]["node"] == "test-node"
                assert series["metric"]["job"] == "nsinspect"
                info = query(prometheus, 'nsinspect_pod_sandbox_info{pod="my-nginx-pod"}')
                assert info[0]["metric"]["runtime"] == "podman"
                assert info[0]["metric"]["sandbox_process"] == "present"
            remove_pod("my-nginx-pod")
            # Gone from the next scan, so the next scrape marks the series stale.
            wait_for_query(prometheus, net, want_empty=True, timeout=30)
            assert not query(prometheus, 'nsinspect_pod_sandbox_info{pod="my-nginx-pod"}')
            assert query(prometheus, "nsinspect_scan_duration_seconds_count > 0")
            assert query(prometheus, "nsinspect_build_info == 1")
    finally:
        agent.stop()
