"""Plain, kubectl-like tables: left-aligned columns, three spaces apart, colour on a terminal."""

from __future__ import annotations

from collections.abc import Sequence

import click

GAP = "   "


def dash(value: object) -> str:
    """A cell's text: `-` for what is empty or unknown."""
    return "-" if value in ("", None) else str(value)


class Cell(str):
    """A table cell that remembers its colour; padding is computed on the plain text."""

    colour: str | None = None

    @classmethod
    def coloured(cls, text: str, colour: str | None) -> Cell:
        cell = cls(text)
        cell.colour = colour
        return cell


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns separated by three spaces, no trailing blanks (like kubectl)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = []
    for row in [list(headers), *rows]:
        parts = []
        for index, cell in enumerate(row):
            padded = cell if index == len(row) - 1 else cell.ljust(widths[index])
            colour = getattr(cell, "colour", None)
            parts.append(click.style(padded, fg=colour) if colour else padded)
        lines.append(GAP.join(parts).rstrip())
    return lines
