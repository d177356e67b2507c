"""Scraping, alerts and the dashboard: what Prometheus and Grafana get from deploy/."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.manifests import agent_pod_spec, of_kind, only, render, server_container
from harness.monitoring import (
    DASHBOARD,
    dashboard,
    dashboard_expressions,
    families_used,
    rule_expressions,
    rule_groups,
)

pytestmark = pytest.mark.kubectl

OPERATOR = "overlays/prometheus-operator"
# The metric families of DESIGN.md that deploy/ may use; the image test checks that the agent
# exports each one that the rules and the dashboard use.
FAMILIES = {
    "nsinspect_pod_sandbox_info",
    "nsinspect_container_namespace_info",
    "nsinspect_container_namespace_shared",
    "nsinspect_pod_namespace_host",
    "nsinspect_pod_namespace_mismatch",
    "nsinspect_pod_sandbox_start_time_seconds",
    "nsinspect_pod_finding",
    "nsinspect_orphan_namespaces",
    "nsinspect_scan_duration_seconds",
    "nsinspect_scan_errors_total",
    "nsinspect_last_scan_timestamp_seconds",
    "nsinspect_processes",
    "nsinspect_runtime_up",
    "nsinspect_build_info",
    "nsinspect_kube_api_up",
    "nsinspect_scan_stuck",
    "nsinspect_scan_running_seconds",
    "nsinspect_fds_skipped",
    "nsinspect_zombie_processes",
}


def promtool(*args: str, cwd: Path) -> None:
    done = subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=cwd, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_scrape_annotations_point_at_the_metrics_port() -> None:
    documents = render("base")
    annotations = only(documents, "DaemonSet")["spec"]["template"]["metadata"]["annotations"]
    port = {p["name"]: p["containerPort"] for p in server_container(documents)["ports"]}["metrics"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_operator_overlay_scrapes_by_service_monitor_only() -> None:
    documents = render(OPERATOR)
    annotations = only(documents, "DaemonSet")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "false"
    monitor = only(documents, "ServiceMonitor")["spec"]
    service = only(documents, "Service")
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert endpoint["honorLabels"] is True
    assert {
        "sourceLabels": ["__meta_kubernetes_pod_node_name"],
        "targetLabel": "node",
        "action": "replace",
    } in endpoint["relabelings"]
    assert agent_pod_spec(documents)["hostPID"] is True  # the overlay keeps the base's pod


def test_operator_overlay_scrapes_with_prometheus_token_which_may_get_metrics() -> None:
    """The agent checks the token on /metrics (--metrics-auth): the ServiceMonitor sends
    Prometheus's own service account token, and that account may get /metrics."""
    documents = render(OPERATOR)
    assert "--metrics-auth" in server_container(documents)["args"]
    [endpoint] = only(documents, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["bearerTokenFile"] == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    roles = {r["metadata"]["name"]: r for r in of_kind(documents, "ClusterRole")}
    assert roles["nsinspect-metrics-reader"]["rules"] == [
        {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}
    ]
    bindings = {b["metadata"]["name"]: b for b in of_kind(documents, "ClusterRoleBinding")}
    reader = bindings["nsinspect-metrics-reader"]
    assert reader["roleRef"]["name"] == "nsinspect-metrics-reader"
    # kube-prometheus's Prometheus; the overlay's namespace must not move it into nsinspect
    assert reader["subjects"] == [
        {"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"}
    ]


def test_rules_and_dashboard_use_only_known_metric_families() -> None:
    used = families_used(rule_expressions() + dashboard_expressions())
    assert used <= FAMILIES, used - FAMILIES
    assert {"nsinspect_pod_finding", "nsinspect_last_scan_timestamp_seconds"} <= used


@pytest.mark.prometheus
def test_rules_pass_promtool(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}))
    promtool("check", "rules", "rules.yaml", cwd=tmp_path)


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{rendered}}}", "values": values}


def alert_at(minute: int, alert: str, *expected: dict[str, str]) -> dict[str, Any]:
    return {
        "eval_time": f"{minute}m",
        "alertname": alert,
        "exp_alerts": [{"exp_labels": labels} for labels in expected],
    }


TARGET = {"job": "nsinspect", "instance": "10.0.0.7:9977", "node": "node-a"}
FINDING = {"namespace": "shop", "pod": "web-0"}
ALERT_TESTS = [
    {  # a critical finding alerts after 2 minutes, a warning one after 15, an info one never
        "interval": "1m",
        "input_series": [
            series(
                "nsinspect_pod_finding",
                "1x30",
                **TARGET,
                **FINDING,
                code="ContainerNotInPodNetwork",
                severity="critical",
            ),
            series(
                "nsinspect_pod_finding",
                "1x30",
                **TARGET,
                **FINDING,
                code="IntentMismatch",
                severity="warning",
            ),
            series(
                "nsinspect_pod_finding",
                "1x30",
                **TARGET,
                **FINDING,
                code="OrphanNamespace",
                severity="info",
            ),
        ],
        "alert_rule_test": [
            alert_at(1, "NsinspectCriticalFinding"),
            alert_at(
                3,
                "NsinspectCriticalFinding",
                {
                    **FINDING,
                    "node": "node-a",
                    "code": "ContainerNotInPodNetwork",
                    "severity": "critical",
                },
            ),
            alert_at(10, "NsinspectWarningFinding"),
            alert_at(
                16,
                "NsinspectWarningFinding",
                {**FINDING, "node": "node-a", "code": "IntentMismatch", "severity": "warning"},
            ),
        ],
    },
    {  # an agent that does not answer, and one whose last scan stays in the past
        "interval": "1m",
        "input_series": [
            series("up", "0x20", **TARGET),
            series("nsinspect_last_scan_timestamp_seconds", "0x20", **TARGET),
            series(
                "nsinspect_last_scan_timestamp_seconds",
                "0+60x20",
                **{**TARGET, "node": "node-b"},
            ),
            series("nsinspect_kube_api_up", "0x20", **TARGET),
            # node-a's scan got stuck for two minutes at minute 3, then the agent restarted.
            series("nsinspect_scan_stuck", "0 0 0 1 1 0x15", **TARGET),
            series(
                "kube_daemonset_status_number_unavailable",
                "1x20",
                namespace="nsinspect",
                daemonset="nsinspect",
            ),
        ],
        "alert_rule_test": [
            alert_at(4, "NsinspectAgentDown"),
            alert_at(6, "NsinspectAgentDown", {**TARGET, "severity": "warning"}),
            alert_at(8, "NsinspectScanStale", {"node": "node-a", "severity": "warning"}),
            alert_at(2, "NsinspectScanStuck"),
            alert_at(3, "NsinspectScanStuck", {"node": "node-a", "severity": "warning"}),
            alert_at(20, "NsinspectScanStuck", {"node": "node-a", "severity": "warning"}),
            alert_at(11, "NsinspectKubeAPIUnreachable", {"node": "node-a", "severity": "warning"}),
            alert_at(
                16,
                "NsinspectAgentUnavailable",
                {"namespace": "nsinspect", "daemonset": "nsinspect", "severity": "warning"},
            ),
        ],
    },
]


@pytest.mark.prometheus
def test_alerts_fire_on_findings_and_silent_agents(tmp_path: Path) -> None:
    """promtool's rule unit tests; annotations are left out, as templates checked above."""
    groups = copy.deepcopy(rule_groups())  # the rendered documents are shared by every test
    for group in groups:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump(
            {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": ALERT_TESTS}
        )
    )
    promtool("test", "rules", "tests.yaml", cwd=tmp_path)


def test_dashboard_has_the_four_views() -> None:
    panels = dashboard()["panels"]
    by_expr = {t["expr"]: panel for panel in panels for t in panel["targets"]}

    def panel_reading(pattern: str) -> dict[str, Any]:
        found = [panel for expr, panel in by_expr.items() if re.search(pattern, expr)]
        assert found, pattern
        return found[0]

    assert panel_reading(r"count by \(node\) \(nsinspect_pod_sandbox_info")["type"] == "timeseries"
    matrix = panel_reading(r"nsinspect_container_namespace_shared")
    assert matrix["type"] == "table"
    assert matrix["transformations"][0]["options"]["columnField"] == "ns_type"
    assert panel_reading(r"sum by \(severity\) \(nsinspect_pod_finding")["type"] == "timeseries"
    duration = panel_reading(r"nsinspect_scan_duration_seconds_bucket")
    assert duration["fieldConfig"]["defaults"]["unit"] == "s"
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    variables = {v["name"] for v in dashboard()["templating"]["list"]}
    assert variables == {"datasource", "cluster", "node", "namespace"}


@pytest.mark.prometheus
def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """Each query, with Grafana's variables filled in, as a recording rule promtool parses."""
    filled = [
        re.sub(r"\$(cluster|node|namespace)\b", ".*", expr.replace("$__rate_interval", "5m"))
        for expr in dashboard_expressions()
    ]
    rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(filled)]
    (tmp_path / "queries.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]})
    )
    promtool("check", "rules", "queries.yaml", cwd=tmp_path)


def test_operator_overlay_ships_the_dashboard_to_grafana() -> None:
    config_map = only(render(OPERATOR), "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["nsinspect-dashboard.json"]) == json.loads(
        DASHBOARD.read_text()
    )
