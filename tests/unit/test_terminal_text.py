"""Node text on a terminal: every control, format and separator character shown as an escape."""

from __future__ import annotations

import unicodedata
from typing import Any

import click
import click.testing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nsinspect.agent.report import NamespaceList, ProcessReport
from nsinspect.cli.graph import quote
from nsinspect.cli.pinned import render_pinned
from nsinspect.cli.render import render_process
from nsinspect.cli.table import Cell, format_table
from nsinspect.cli.terminal_text import (
    ESCAPED_CATEGORIES,
    CommandError,
    EscapedLine,
    echo_lines,
    escape_controls,
)

ATTACK = "\x1b]0;PWNED\x07\x1b[2J"  # set the window title, clear the screen


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (ATTACK, "\\x1b]0;PWNED\\x07\\x1b[2J"),
        ("a\x00b\x01\x1f", "a\\x00b\\x01\\x1f"),  # C0
        ("tab\there", "tab\\there"),
        ("two\nlines\r", "two\\nlines\\r"),
        ("del\x7f", "del\\x7f"),
        ("c1 \x80 \x85 \x9b \x9f", "c1 \\x80 \\x85 \\x9b \\x9f"),  # 0x9b: CSI, 0x85: NEL
        ("evil\u202egnp.exe", "evil\\u202egnp.exe"),  # right-to-left override
        ("\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"),  # embeddings, pop
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),  # isolates
        ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),  # directional marks
        ("kube\u200bproxy\ufeff", "kube\\u200bproxy\\ufeff"),  # zero-width space, BOM
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),  # separators
        ("tag\U000e0041", "tag\\U000e0041"),  # an invisible tag character
    ],
)
def test_every_class_is_shown_escaped(text: str, shown: str) -> None:
    assert escape_controls(text) == shown


def test_undecodable_bytes_show_as_the_bytes_they_were() -> None:
    comm = b"ab\x9b\xff\x1b".decode("utf-8", "surrogateescape")
    assert escape_controls(comm) == "ab\\x9b\\xff\\x1b"
    assert escape_controls("lone \ud800") == "lone \\ud800"  # not a surrogateescape'd byte
    assert escape_controls("\udc9b").encode() == b"\\x9b"


@pytest.mark.parametrize(
    "text", ["nginx", "café", "中文容器", "emoji 🐳", "a b", "nbsp\u00a0x", "U+FFFD \ufffd"]
)
def test_printable_text_stays_as_it_is(text: str) -> None:
    assert escape_controls(text) == text


def test_a_backslash_stays_and_escaping_twice_is_escaping_once() -> None:
    unit = "dev-disk-by\\x2duuid-1234.swap"  # as systemd names it, and systemctl prints it
    assert escape_controls(unit) == unit
    once = escape_controls(ATTACK + "\\")
    assert escape_controls(once) == once


def test_a_hostile_cell_keeps_its_row_on_one_line_and_the_columns_aligned() -> None:
    rows = [[ATTACK, "4242", "pod"], ["sleep", "7", "private"], ["c\nd", "8", "pod"]]
    lines = format_table(["CONTAINER", "PID", "NET"], rows)
    assert len(lines) == 4
    assert all(isinstance(line, EscapedLine) for line in lines)
    assert not any(char in line for line in lines for char in "\x1b\x07\n")
    assert lines[1] == "\\x1b]0;PWNED\\x07\\x1b[2J   4242   pod"
    assert lines[3].startswith("c\\nd ")
    pid_column = lines[1].index("4242")
    assert [
        line.index(pid) for line, pid in zip(lines, ["PID", "4242", "7", "8"], strict=True)
    ] == [pid_column] * 4


def test_colour_is_added_after_escaping_and_only_ours() -> None:
    hostile = Cell.coloured("other:\x1b[8mhidden", "red")
    header, row = format_table(["VERDICT", "PID"], [[hostile, "1"]])
    assert row.startswith("\x1b[31mother:\\x1b[8mhidden\x1b[0m")
    assert click.unstyle(row) == "other:\\x1b[8mhidden   1"
    assert header == "VERDICT".ljust(len("other:\\x1b[8mhidden")) + "   PID"


def test_echo_escapes_every_line_but_a_tables() -> None:
    runner = click.testing.CliRunner()
    table = format_table(["NAME"], [[Cell.coloured("ok", "green")]])

    @click.command()
    def show() -> None:
        echo_lines(["pid 1 (" + ATTACK + ")", *table])
        echo_lines(["warning: " + ATTACK], err=True)

    result = runner.invoke(show, color=True)
    assert result.stdout == "pid 1 (\\x1b]0;PWNED\\x07\\x1b[2J)\nNAME\n\x1b[32mok\x1b[0m\n"
    assert result.stderr == "warning: \\x1b]0;PWNED\\x07\\x1b[2J\n"


def test_an_error_quoting_the_node_is_shown_escaped() -> None:
    error = CommandError(f'pod "{ATTACK}" not found')
    assert error.format_message() == 'pod "\\x1b]0;PWNED\\x07\\x1b[2J" not found'


def test_a_dot_string_holds_no_control_and_no_line_break_of_the_nodes() -> None:
    assert quote("sandbox", "a\nb", 'say "\x1b"') == '"sandbox\\na\\\\nb\\nsay \\"\\\\x1b\\""'


def process_report(comm: str, cgroup: str) -> ProcessReport:
    document: dict[str, Any] = {
        "kind": "ProcessReport",
        "node": "node\x1b[2J",
        "pid": 4242,
        "ppid": 1,
        "comm": comm,
        "start_time": 1,
        "cgroup": [cgroup],
        "member_of": {"pod": "net-1", "container": comm, "role": "app"},
        "namespaces": {"net": {"inode": 4026532177, "host": False}},
        "host": {"source": "pid1", "pid": 1, "namespaces": {}, "note": ""},
        "errors": [{"stage": "cgroup", "reason": "EACCES", "path": f"/proc/4242/{comm}"}],
    }
    return ProcessReport.from_json(document)


def test_the_process_view_escapes_comm_cgroup_and_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    render_process(process_report(ATTACK, "/kubepods/\u202ecgroup\n"), wide=True)
    out = capsys.readouterr().out
    assert not any(unicodedata.category(char) in ESCAPED_CATEGORIES for char in out if char != "\n")
    assert out.startswith("PID 4242 (\\x1b]0;PWNED\\x07\\x1b[2J), parent 1: pod net-1, container")
    assert "cgroup /kubepods/\\u202ecgroup\\n\n" in out
    assert "/proc/4242/\\x1b]0;PWNED\\x07\\x1b[2J: EACCES" in out


def test_the_pinned_list_escapes_a_pins_path(capsys: pytest.CaptureFixture[str]) -> None:
    pin = "/run/netns/cni-\x1b[2J\nfake row"
    document = NamespaceList.from_json(
        {
            "kind": "NamespaceList",
            "node": "n",
            "taken_at": 1.0,
            "orphans": [{"type": "net", "inode": 9, "path": pin, "holder_pid": None}],
            "items": [
                {"type": "net", "inode": 9, "host": False, "processes": [], "pins": [pin],
                 "orphan": True, "users": []},
            ],
        }
    )  # fmt: skip
    render_pinned(document)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "TYPE   INODE   USED BY   PINNED AT",
        "net    9       ORPHAN    /run/netns/cni-\\x1b[2J\\nfake row",
    ]


# Any text, with the characters that matter made likely, surrogates included.
HOSTILE = st.sampled_from("\x00\x07\t\n\r\x1b\x7f\x85\x9b\u200b\u202e\u2066\u2028\ufeff\\é中")
ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs"]), HOSTILE)


@given(st.text(ANY_CHAR))
def test_no_text_leaves_a_control_behind(text: str) -> None:
    shown = escape_controls(text)
    assert not any(unicodedata.category(char) in ESCAPED_CATEGORIES for char in shown)
    assert "\n" not in shown and "\x1b" not in shown
    shown.encode("utf-8")  # no surrogate is left to refuse encoding
    assert escape_controls(shown) == shown
    if text.isprintable():
        assert shown == text


@given(st.lists(st.tuples(st.text(ANY_CHAR), st.text(ANY_CHAR)), max_size=5))
def test_every_row_is_one_line(rows: list[tuple[str, str]]) -> None:
    lines = format_table(["A", "B"], rows)
    assert len("\n".join(lines).split("\n")) == len(rows) + 1
