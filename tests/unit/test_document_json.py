"""`-o json` is msgspec's encoding, the same text json.dumps gave, ASCII only as before."""

from __future__ import annotations

import json

import pytest

from nsinspect.agent.report import FindingList, FindingReport, Severity
from nsinspect.cli.output import document_json


def findings(message: str) -> FindingList:
    finding = FindingReport(
        code="X", severity=Severity.INFO, message=message, pod="", container="", ns_type="net",
        evidence={"inode": 4026532177, "ratio": 0.25, "nested": {"list": [1, None, True]}},
    )  # fmt: skip
    return FindingList(node="n", taken_at=1796646147.2126703, items=[finding, finding])


@pytest.mark.parametrize(
    "message",
    [
        "plain",
        'quotes " and \\ backslash, tab\t newline\n',
        "escape \x1b[31m and NUL \x00",
        "DEL \x7f",
        "non-ASCII é 中 and a bidi override \u202e",
        "an undecodable byte \udcff",
    ],
)
def test_the_text_is_what_json_dumps_writes(message: str) -> None:
    document = findings(message)
    text = document_json(document)
    assert text == json.dumps(document.to_json(), indent=2)
    assert text.isascii()
    assert json.loads(text) == document.to_json()


def test_an_empty_list_document() -> None:
    document = FindingList(node="", items=[])
    assert document_json(document) == json.dumps(document.to_json(), indent=2)
