"""Text for a terminal: what the node said, with its control characters made visible.

Every string in a report is the node's (a comm, a hostname, a netns pin's or an interface's name,
a path) or, in remote mode, an agent's: hostile input. Written raw, an escape sequence in a process
name retitles the window or clears the screen, a newline splits a table row in two, a bidi
override reorders the line. Each such character is shown instead as the escape Python's repr
would write (`\\x1b`, `\\n`, `\\u202e`); printable text, ASCII or not (`é`, `中`), stays as it is.

A backslash is left alone. The escapes keep the terminal safe; they do not encode the bytes (-o
json does), and a name holding a literal `\\x1b` merely looks like one that held ESC, both plainly
odd. Left alone, systemd's escaped unit names (`dev-disk-by\\x2duuid-...`) read as systemctl
prints them, and escaping twice equals escaping once, so text escaped early is safe to pass again.

The renderers print through echo_lines, which escapes every line but an EscapedLine: a table's
(format_table escapes each cell, then adds our colours). A line that lost the mark on the way is
escaped once more and shows our colour codes as text: wrong to look at, never a raw control.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import click

# C0, DEL and C1 (Cc); bidi overrides and isolates, zero-width and other invisible format
# characters (Cf); lone surrogates, which is how surrogateescape keeps undecodable bytes (Cs);
# the line and paragraph separators (Zl, Zp).
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# surrogateescape decodes an undecodable byte 0xXX to U+DCXX.
ESCAPED_BYTES = range(0xDC80, 0xDD00)


class EscapedLine(str):
    """A line whose node text is escaped already, and which may carry colour codes we added."""


def _escape(char: str) -> str:
    code = ord(char)
    if char in SHORT_ESCAPES:
        return SHORT_ESCAPES[char]
    if code in ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_controls(text: str) -> str:
    """`text` with every control, format and separator character shown as an escape."""
    if text.isprintable():  # the common case: no character of those classes at all
        return text
    return "".join(
        _escape(char) if unicodedata.category(char) in ESCAPED_CATEGORIES else char for char in text
    )


class CommandError(click.ClickException):
    """A command's error; its message may quote the node, an agent or the API server, so it is
    shown escaped like every other line."""

    def format_message(self) -> str:
        return escape_controls(self.message)


def echo_lines(lines: Iterable[str], *, err: bool = False) -> None:
    """Print lines for a person, each escaped unless it is an EscapedLine (a table's)."""
    click.echo(
        "\n".join(
            line if isinstance(line, EscapedLine) else escape_controls(line) for line in lines
        ),
        err=err,
    )
