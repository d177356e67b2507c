"""What deploy/ asks of the agent's metrics: the PrometheusRule's and the dashboard's queries."""

from __future__ import annotations

import json
import re
from typing import Any

from harness.manifests import DEPLOY, only, render

DASHBOARD = DEPLOY / "grafana" / "nsinspect-dashboard.json"
METRIC_NAME = re.compile(r"\bnsinspect_[a-z_]+")


def rule_groups() -> list[dict[str, Any]]:
    rule = only(render("overlays/prometheus-operator"), "PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_expressions() -> list[str]:
    return [t["expr"] for panel in dashboard()["panels"] for t in panel.get("targets", [])]


def rule_expressions() -> list[str]:
    return [rule["expr"] for group in rule_groups() for rule in group["rules"]]


def families_used(expressions: list[str]) -> set[str]:
    """The nsinspect families the expressions read (a histogram's _bucket is its family's)."""
    names = {name for expr in expressions for name in METRIC_NAME.findall(expr)}
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}
