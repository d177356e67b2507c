"""Label selectors in apimachinery's syntax: parsing, canonical text, matching, errors."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import click
import msgspec
import pytest

from nsinspect.agent.model import Evidence, Runtime
from nsinspect.agent.report.pod import PodIdentity
from nsinspect.cli.selectors import Operator, filter_pods, parse_selector

WEB = {"app": "web", "tier": "front", "version": "3"}
DB = {"app": "db", "tier": "back"}
NONE: dict[str, str] = {}


@pytest.mark.parametrize(
    ("text", "selected"),
    [
        ("", {"web", "db", "none"}),
        ("app=web", {"web"}),
        ("app==web", {"web"}),
        ("app = web", {"web"}),
        ("app!=web", {"db", "none"}),  # a pod without the key holds `!=`
        ("app in (web,db)", {"web", "db"}),
        ("app in (web, db)", {"web", "db"}),
        ("app notin (web)", {"db", "none"}),
        ("app", {"web", "db"}),
        ("!app", {"none"}),
        ("! app", {"none"}),
        ("app,tier=back", {"db"}),
        ("app in (web,db),tier!=front", {"db"}),
        ("version>2", {"web"}),
        ("version<3", set()),
        ("tier=", set()),  # the empty value: no pod has tier=""
        ("example.com/owner", set()),
    ],
)
def test_matches(text: str, selected: set[str]) -> None:
    selector = parse_selector(text)
    pods = {"web": WEB, "db": DB, "none": NONE}
    assert {name for name, labels in pods.items() if selector.matches(labels)} == selected


def test_empty_value_matches_empty_label() -> None:
    assert parse_selector("tier=").matches({"tier": ""})
    assert parse_selector("tier in (,x)").matches({"tier": ""})


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("tier=front,app=web", "app=web,tier=front"),
        ("app==web", "app==web"),
        ("app in (web,db,web)", "app in (db,web)"),
        ("  !app ,  b notin (y , x)", "!app,b notin (x,y)"),
        ("example.com/owner", "example.com/owner"),
        ("version>2", "version>2"),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    selector = parse_selector(text)
    assert selector.text == canonical
    assert parse_selector(selector.text) == selector  # the text parses back to the same


def test_operators() -> None:
    (requirement,) = parse_selector("a notin (x)").requirements
    assert requirement.operator is Operator.NOT_IN
    assert requirement.values == ("x",)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("app web", "found 'web', expected: '=', '!=', '==', 'in', notin'"),
        ("app in web", "found 'web' expected: '('"),
        ("app in ()", "values set can't be empty"),
        ("app in (a b)", "found 'b', expected: ',', ')' or identifier"),
        ("app=web)", "found ')', expected: ',' or 'end of string'"),
        ("!", "expected: identifier after '!'"),
        ("=web", "found '=', expected: !, identifier"),
        ("app=web,", "identifier after ','"),
        ("-app=x", 'Invalid value: "-app"'),
        ("Example.com/app=x", "prefix part must be a lowercase RFC 1123 subdomain"),
        ("app=" + "v" * 64, "a valid label must be an empty string"),
        ("app>x", "must be an integer"),
        ("a\x1b[31m=b", 'Invalid value: "a\\x1b[31m"'),
    ],
)
def test_bad_selectors_say_why(text: str, says: str) -> None:
    with pytest.raises(click.BadParameter) as raised:
        parse_selector(text)
    message = raised.value.format_message()
    assert "unable to parse requirement: " in message
    assert says in message
    assert "\x1b" not in message  # escaped before a terminal sees it


def pod(name: str, labels: dict[str, str] | None) -> Any:
    """Stands in for a PodReport: filter_pods reads only its `pod` section."""
    identity = PodIdentity(
        namespace="", name=name, uid=name, runtime=Runtime.PODMAN, evidence=Evidence.OCI_CONFIG
    )
    if labels is not None:
        identity = msgspec.structs.replace(identity, labels=labels)
    return SimpleNamespace(pod=identity)


def test_filter_pods_keeps_order_and_treats_unlabelled_as_empty() -> None:
    pods = [pod("b", DB), pod("none", None), pod("a", WEB)]
    assert [p.pod.name for p in filter_pods(pods, parse_selector("app"))] == ["b", "a"]
    assert [p.pod.name for p in filter_pods(pods, parse_selector("!app"))] == ["none"]
    assert [p.pod.name for p in filter_pods(pods, parse_selector(""))] == ["b", "none", "a"]
