"""Plain, kubectl-like tables: left-aligned columns, three spaces apart, colour on a terminal."""

from __future__ import annotations

from collections.abc import Sequence

import click

from .terminal_text import EscapedLine, escape_controls

GAP = "   "


def dash(value: object) -> str:
    """A cell's text: `-` for what is empty or unknown."""
    return "-" if value in ("", None) else str(value)


class Cell(str):
    """A table cell that remembers its colour; padding is computed on the escaped, plain text."""

    colour: str | None = None

    @classmethod
    def coloured(cls, text: str, colour: str | None) -> Cell:
        cell = cls(text)
        cell.colour = colour
        return cell


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = ""
) -> list[EscapedLine]:
    """Left-aligned columns separated by three spaces, no trailing blanks (like kubectl).

    Every cell is escaped (terminal_text) before its width is measured and before it is coloured,
    so a control character in a name neither reaches the terminal nor breaks the row.
    """
    table = [list(headers), *rows]
    texts = [[escape_controls(cell) for cell in row] for row in table]
    widths = [len(h) for h in texts[0]]
    for row_texts in texts[1:]:
        widths = [max(w, len(text)) for w, text in zip(widths, row_texts, strict=True)]
    lines = []
    for row, row_texts in zip(table, texts, strict=True):
        parts = []
        for index, (cell, text) in enumerate(zip(row, row_texts, strict=True)):
            padded = text if index == len(row) - 1 else text.ljust(widths[index])
            colour = getattr(cell, "colour", None)
            parts.append(click.style(padded, fg=colour) if colour else padded)
        lines.append(EscapedLine((indent + GAP.join(parts)).rstrip()))
    return lines
