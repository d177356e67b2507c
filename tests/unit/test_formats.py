"""The pieces of kubectl's conventions that need no node: durations, -o values, JSONPath
templates and --sort-by (cli/duration.py, cli/formats.py, cli/template.py)."""

from __future__ import annotations

from typing import Any

import click
import pytest

from nsinspect.agent.report import ALL_NS_TYPES
from nsinspect.agent.scanner import DEFAULT_CRI_SOCKETS, STATE_DIRS
from nsinspect.cli.duration import NO_TIMEOUT_SECONDS, Duration, parse_duration
from nsinspect.cli.formats import OutputFormat, OutputSpec, checked_output
from nsinspect.cli.main import NS_ARGUMENT_TYPES
from nsinspect.cli.runtime_options import DEFAULT_CRI_SOCKETS_TEXT, STATE_DIRS_TEXT
from nsinspect.cli.template import (
    TemplateError,
    parse_template,
    render_template,
    sort_key_expression,
    sorted_order,
)

LIST: dict[str, Any] = {
    "kind": "PodList",
    "items": [
        {"pod": {"namespace": "default", "name": "web", "labels": {"app.kubernetes.io/name": "w"}},
         "sandbox": {"pid": 300}, "ok": True},
        {"pod": {"namespace": "", "name": "db\x1b[2J", "labels": {}},
         "sandbox": {"pid": None}, "ok": False},
        {"pod": {"namespace": "kube-system", "name": "dns", "labels": {"app": "dns"}},
         "sandbox": {"pid": 21}, "ok": True},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("7", 7.0),
        ("2.5", 2.5),
        ("5s", 5.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1.5h", 5400.0),
        ("250us", 0.00025),
        ("1h2m3s4ms", 3723.004),
    ],
)
def test_durations_as_go_parses_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "5 s", "-5s", "5x", "1m30", "ms5", "5s5"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_zero_waits_for_ever_and_bad_ones_are_usage_errors() -> None:
    assert Duration().convert("0", None, None) == NO_TIMEOUT_SECONDS
    assert Duration().convert("1m", None, None) == 60.0
    with pytest.raises(click.BadParameter, match="is not a duration"):
        Duration().convert("soon", None, None)


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("json", OutputSpec("json")),
        ("=json", OutputSpec("json")),  # -o=json reaches click so
        ("wide", OutputSpec("wide")),
        ("name", OutputSpec("name")),
        ("jsonpath={.items[*].pod.name}", OutputSpec("jsonpath", "{.items[*].pod.name}")),
        ("=jsonpath={.kind}", OutputSpec("jsonpath", "{.kind}")),
    ],
)
def test_output_values(value: str, spec: OutputSpec) -> None:
    assert OutputFormat().convert(value, None, None) == spec


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("toml", "is not an output format"),
        ("json=x", "is not an output format"),
        ("jsonpath", "jsonpath needs a template"),
        ("jsonpath={.a", "unclosed {"),
        ("jsonpath={end}", "{end} without a {range}"),
        ("jsonpath-file=/nonexistent/nsi-template", "cannot read the jsonpath template"),
    ],
)
def test_bad_output_values(value: str, words: str) -> None:
    with pytest.raises(click.BadParameter, match=words.replace("{", r"\{")):
        OutputFormat().convert(value, None, None)


def test_a_command_refuses_what_it_does_not_take() -> None:
    assert checked_output(OutputSpec("json"), ("json",), "pid") == OutputSpec("json")
    with pytest.raises(click.UsageError, match="`pid` does not take -o name"):
        checked_output(OutputSpec("name"), ("table", "json", "jsonpath"), "pid")


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("{.kind}", "PodList"),
        ("{.items[*].pod.name}", "web db\\x1b[2J dns"),  # the node's ESC shown, not sent
        ("{.items[0].sandbox.pid}", "300"),
        ("{.items[1].sandbox.pid}", "null"),
        ("{.items[*].ok}", "true false true"),
        ("{.items[0].pod.labels}", '{"app.kubernetes.io/name":"w"}'),
        ("{.items[0].pod.labels.app\\.kubernetes\\.io/name}", "w"),
        ("{.items[0].pod.missing}", ""),
        ("kind={.kind}!", "kind=PodList!"),
        ('{range .items[*]}{.pod.name}{"\\n"}{end}', "web\ndb\\x1b[2J\ndns\n"),
        ("{range .items[*]}[{@.sandbox.pid}]{end}", "[300][null][21]"),
        ('{range .items[*]}{$.kind}{"\\t"}{end}', "PodList\tPodList\tPodList\t"),
        ("{..labels.app}", "dns"),
        ('{.items[?(@.pod.namespace=="kube-system")].pod.name}', "dns"),
        ("{range .items}{.pod.namespace}.{end}", "default..kube-system."),
    ],
)
def test_templates_print_as_kubectl(template: str, text: str) -> None:
    assert render_template(parse_template(template), LIST) == text


@pytest.mark.parametrize(
    ("template", "words"),
    [("{.a}}", "unmatched }"), ("{range .items[*]}{.a}", "without its {end}"), ("{}", "empty")],
)
def test_bad_templates(template: str, words: str) -> None:
    with pytest.raises(TemplateError, match=words.replace("{", r"\{").replace("}", r"\}")):
        parse_template(template)


def test_sort_by_is_kubectl_order() -> None:
    items = LIST["items"]
    assert sorted_order(items, sort_key_expression(".pod.name")) == [1, 2, 0]
    # numbers by value (21 before 300), null first
    assert sorted_order(items, sort_key_expression("{.sandbox.pid}")) == [1, 2, 0]
    with pytest.raises(TemplateError, match="no item has that field"):
        sorted_order(items, sort_key_expression(".pod.nothing"))
    assert sorted_order([], sort_key_expression(".pod.nothing")) == []


def test_the_help_texts_name_the_registry_defaults() -> None:
    """The runtime options' help is text (start-up); it says what the registry holds."""
    assert ", ".join(DEFAULT_CRI_SOCKETS) == DEFAULT_CRI_SOCKETS_TEXT
    assert STATE_DIRS_TEXT == STATE_DIRS
    assert set(NS_ARGUMENT_TYPES) == set(ALL_NS_TYPES)


def test_output_values_complete_in_the_shell() -> None:
    """`-o j<TAB>` through click's completion, as bash asks it."""
    from click.testing import CliRunner

    from nsinspect.cli.main import cli

    env = {"_NSINSPECT_COMPLETE": "bash_complete", "COMP_WORDS": "nsinspect pods -o j",
           "COMP_CWORD": "3"}  # fmt: skip
    result = CliRunner(env=env).invoke(cli, [], prog_name="nsinspect")
    assert result.output.splitlines() == ["plain,json", "plain,jsonpath=", "plain,jsonpath-file="]
