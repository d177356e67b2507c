"""Durations as kubectl's `--request-timeout` takes them: Go's `time.ParseDuration` syntax
(`500ms`, `5s`, `1m30s`, `1.5h`), a bare number meaning seconds, and `0` meaning no timeout."""

from __future__ import annotations

import re

import click

UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5, as Go accepts it
    "μs": 1e-6,  # U+03BC
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_BARE = re.compile(r"\d+(?:\.\d*)?|\.\d+")
# kubectl's 0 waits for ever; the API client needs a number, and a day is for ever at a terminal.
NO_TIMEOUT_SECONDS = 86400.0


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError when it is not a duration (negative ones included)."""
    text = text.strip()
    if _BARE.fullmatch(text):
        return float(text)
    seconds, position = 0.0, 0
    for part in _PART.finditer(text):
        if part.start() != position:
            break
        seconds += float(part.group(1)) * UNIT_SECONDS[part.group(2)]
        position = part.end()
    if not text or position != len(text):
        raise ValueError(f"invalid duration {text!r}")
    return seconds


class Duration(click.ParamType[float]):
    """`--request-timeout`: kubectl's durations; 0 is no timeout (returned as a day)."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(str(value))
            except ValueError:
                self.fail(
                    f"{value!r} is not a duration: a number of seconds, or a number with a unit "
                    "(ms, s, m, h), e.g. 500ms, 5s, 1m30s; 0 waits for ever",
                    param,
                    ctx,
                )
        return seconds if seconds > 0 else NO_TIMEOUT_SECONDS
