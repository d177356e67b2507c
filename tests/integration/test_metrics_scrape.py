"""The real agent's /metrics as scrapers get it: gzip on the wire to a real Prometheus, the
default detail (no inodes, the types pods share), no `_created`, no `nsinspect_kube_api_up`
without Kubernetes, build_info's revision, the dashboard's queries narrowed by namespace; and
`--metrics-detail=full` with every container's inodes, checked against readlink.

The pods are containerd pods made over CRI, in namespaces of their own.
"""

from __future__ import annotations

import gzip
import http.client
import re
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.agent_process import AgentProcess, start_agent
from harness.cri_fixtures import SEED_CONTAINERS
from harness.cri_node import CriNode, PodSpec
from harness.monitoring import dashboard_expressions
from harness.prometheus import prometheus_scraping, query, wait_for_query
from harness.recording_proxy import recording_proxy
from harness.synthetic import readlink_inode, wait_for
from nsinspect.agent.model import NS_TYPES

pytestmark = [pytest.mark.root, pytest.mark.containerd]

SHARED_TYPES = {"net", "ipc", "uts", "pid"}


def agent_on(tmp_path: Path, cri_node: CriNode, *args: str, interval: float) -> AgentProcess:
    return start_agent(
        tmp_path,
        "--no-kubernetes",
        *args,
        interval=interval,
        global_args=("--cri-socket", cri_node.socket,
                     "--runtime-state", f"containerd={cri_node.state_dir}"),
    )  # fmt: skip


def get_metrics(agent: AgentProcess, accept: str) -> tuple[dict[str, str], bytes]:
    """The answer's headers and its bytes as sent (http.client does not decode them)."""
    connection = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
    try:
        connection.request("GET", "/metrics", headers={"Accept-Encoding": accept})
        reply = connection.getresponse()
        assert reply.status == 200
        return dict(reply.getheaders()), reply.read()
    finally:
        connection.close()


def filled(expr: str, namespace: str) -> str:
    """A dashboard query as Grafana sends it: cluster and node All, one namespace."""
    expr = expr.replace("$__rate_interval", "30s").replace('"$namespace"', f'"{namespace}"')
    return re.sub(r"\$(cluster|node)\b", ".*", expr)


@pytest.mark.prometheus
def test_prometheus_scrapes_gzip_and_the_default_detail(
    tmp_path: Path, cri_node: CriNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = f"nsi-metrics-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("NSINSPECT_REVISION", "rev-for-test-7")  # the agent inherits it
    agent = agent_on(tmp_path, cri_node, interval=1.0)
    pod = cri_node.run_pod(PodSpec("metrics-pod", SEED_CONTAINERS, namespace=namespace))
    shared = f'nsinspect_container_namespace_shared{{namespace="{namespace}"}}'
    try:
        agent.wait_ready()
        with (
            recording_proxy(agent.port) as (proxy_port, exchanges),
            prometheus_scraping(tmp_path, f"127.0.0.1:{proxy_port}") as prometheus,
        ):
            found = wait_for_query(prometheus, shared)
            scrapes = [e for e in exchanges if e.path == "/metrics"]
            assert scrapes
            for scrape in scrapes:
                assert "gzip" in scrape.request_headers["Accept-Encoding"]
                assert scrape.answer_headers["Content-Encoding"] == "gzip"
                assert scrape.answer_headers["Vary"] == "Accept-Encoding"
            text = gzip.decompress(scrapes[-1].body)
            assert len(scrapes[-1].body) * 4 < len(text)

            by_container: dict[str, set[str]] = {}
            for series in found:
                labels = series["metric"]
                by_container.setdefault(labels["container"], set()).add(labels["ns_type"])
            assert by_container == dict.fromkeys(SEED_CONTAINERS, SHARED_TYPES)
            assert not query(prometheus, "nsinspect_container_namespace_info")
            assert b"ns_inode" not in text
            assert not query(prometheus, '{__name__=~"nsinspect_.+_created"}')
            assert not query(prometheus, "nsinspect_kube_api_up")
            assert query(prometheus, "nsinspect_runtime_up")  # the agent's own series are there
            [build] = query(prometheus, "nsinspect_build_info")
            assert build["metric"]["revision"] == "rev-for-test-7"

            # The dashboard's queries, narrowed to the test's namespace, then to none.
            wait_for_query(prometheus, filled(dashboard_expressions()[-1], namespace))
            for expr in dashboard_expressions():
                for series in query(prometheus, filled(expr, namespace)):
                    assert series["metric"].get("namespace", namespace) == namespace, expr
            matrix = [e for e in dashboard_expressions() if "namespace_shared" in e]
            assert len(query(prometheus, filled(matrix[0], namespace))) == 2 * len(SHARED_TYPES)
            for expr in dashboard_expressions():
                assert not query(prometheus, filled(expr, "nsi-no-such-namespace")), expr
    finally:
        cri_node.remove_pod(pod)
        agent.stop()


def test_full_detail_has_every_containers_inodes(tmp_path: Path, cri_node: CriNode) -> None:
    namespace = f"nsi-full-{uuid.uuid4().hex[:6]}"
    pod = cri_node.run_pod(PodSpec("full-pod", SEED_CONTAINERS, namespace=namespace))
    # One scan for the whole test: the two answers below come from the same generation.
    agent = agent_on(tmp_path, cri_node, "--metrics-detail", "full", interval=120.0)
    try:
        agent.wait_ready()
        report = agent.get(f"/api/v1/pods/{namespace}/full-pod").json()
        pids = {c["name"]: c["pid"] for c in report["containers"]}
        assert set(pids) == set(SEED_CONTAINERS)

        headers, compressed = get_metrics(agent, "gzip")
        assert headers["Content-Encoding"] == "gzip"
        plain_headers, plain = get_metrics(agent, "identity")
        assert "Content-Encoding" not in plain_headers
        text = gzip.decompress(compressed)
        server_part = text.index(b"# HELP nsinspect_scan_running_seconds")
        assert plain[:server_part] == text[:server_part]  # the same scan, either way

        families = {f.name: f for f in text_string_to_metric_families(text.decode())}
        inodes = {
            (s.labels["container"], s.labels["ns_type"]): int(s.labels["ns_inode"])
            for s in families["nsinspect_container_namespace_info"].samples
            if s.labels["namespace"] == namespace
        }
        truth = {(name, t): readlink_inode(pid, t) for name, pid in pids.items() for t in NS_TYPES}
        assert inodes == truth
        shared_types = {
            s.labels["ns_type"]
            for s in families["nsinspect_container_namespace_shared"].samples
            if s.labels["namespace"] == namespace
        }
        assert shared_types == set(NS_TYPES)
    finally:
        agent.stop()
        cri_node.remove_pod(pod)
    wait_for(lambda: agent.process.poll() is not None, what="the agent to exit")
