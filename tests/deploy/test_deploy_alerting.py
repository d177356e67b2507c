"""Every alert links its runbook section, every runbook section is whole, and the dashboard's
queries all follow its cluster and namespace variables. Read from the shipped files: no
rendering needed."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.manifests import DEPLOY
from harness.monitoring import dashboard

RULES = DEPLOY / "overlays" / "prometheus-operator" / "prometheusrule.yaml"
RUNBOOKS = DEPLOY.parent / "docs" / "runbooks.md"
RUNBOOK_BASE = "https://github.com/nsinspect/nsinspect/blob/main/docs/runbooks.md#"
PARTS = ("Meaning", "Impact", "Diagnosis", "Mitigation")


def alerts() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["spec"]["groups"] for rule in group["rules"]]


def github_anchors(markdown: str) -> dict[str, str]:
    """Each heading's anchor as GitHub makes it: lower case, punctuation but `-` and `_`
    dropped, spaces to `-`, a repeated anchor suffixed -1, -2, ... -> the heading's text."""
    anchors: dict[str, str] = {}
    seen: Counter[str] = Counter()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"#{1,6} +(.+?) *#* *$", line)
        if match is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        anchor = f"{slug}-{seen[slug]}" if seen[slug] else slug
        seen[slug] += 1
        anchors[anchor] = match.group(1)
    return anchors


def sections(markdown: str) -> dict[str, str]:
    """`## Title` -> the text up to the next `## `."""
    found: dict[str, str] = {}
    for chunk in re.split(r"^## ", markdown, flags=re.MULTILINE)[1:]:
        title, _, body = chunk.partition("\n")
        found[title.strip()] = body
    return found


def test_anchor_rules() -> None:
    assert github_anchors("# A b\n## A b\n### Kube API: up?\n```\n# not\n```\n## `x_y`\n") == {
        "a-b": "A b",
        "a-b-1": "A b",
        "kube-api-up": "Kube API: up?",
        "x_y": "`x_y`",
    }


def test_every_alert_links_its_runbook_section() -> None:
    anchors = github_anchors(RUNBOOKS.read_text())
    rules = alerts()
    assert len(rules) >= 7
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(RUNBOOK_BASE), url
        anchor = url.removeprefix(RUNBOOK_BASE)
        assert anchor in anchors, f"{rule['alert']}: no heading makes #{anchor}"
        assert anchors[anchor] == rule["alert"]


def test_every_runbook_section_is_an_alert_with_the_four_parts() -> None:
    found = sections(RUNBOOKS.read_text())
    assert set(found) == {rule["alert"] for rule in alerts()}
    for title, body in found.items():
        positions = [body.find(f"**{part}.**") for part in PARTS]
        assert all(p >= 0 for p in positions), f"{title}: lacks one of {PARTS}"
        assert positions == sorted(positions), f"{title}: parts out of order"
        diagnosis = body[positions[2] : positions[3]]
        assert re.search(r"^kubectl .*", diagnosis, re.MULTILINE), f"{title}: no command"
        assert "nsinspect" in diagnosis, title


def test_dashboard_has_cluster_and_namespace_variables_that_chain() -> None:
    variables = dashboard()["templating"]["list"]
    assert [v["name"] for v in variables] == ["datasource", "cluster", "node", "namespace"]
    defined: list[str] = []
    for variable in variables:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            assert variable["definition"] == query
            # each narrows by the variables before it (not the data source's)
            for earlier in defined:
                assert f'{earlier}=~"${earlier}"' in query, (variable["name"], earlier)
            assert variable["includeAll"] and variable["allValue"] == ".*"
            defined.append(variable["name"])
    assert defined == ["cluster", "node", "namespace"]


@pytest.mark.parametrize("variable", ["cluster", "node", "namespace"])
def test_every_panel_query_uses_the_variables(variable: str) -> None:
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            selectors = re.findall(r"\b(nsinspect_[a-z_]+)\{([^}]*)\}", expr)
            assert selectors, expr
            assert any(f'{variable}=~"${variable}"' in labels for _, labels in selectors), (
                panel["title"],
                expr,
            )
            # cluster and node narrow every series read; namespace, the pods' own
            for name, labels in selectors:
                if variable != "namespace":
                    assert f'{variable}=~"${variable}"' in labels, (panel["title"], name)


@pytest.mark.prometheus
def test_rules_with_runbook_urls_pass_promtool(tmp_path: Path) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian: prometheus)")
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    done = subprocess.run(
        ["promtool", "check", "rules", str(tmp_path / "rules.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(alerts())} rules found" in done.stdout
