"""The server's logs: JSON lines on stderr, as the scanner's (exchange/jsonlog.py)."""

from __future__ import annotations

import logging

from ..exchange.jsonlog import LEVELS, log_to_stderr

__all__ = ["LEVELS", "configure"]


def configure(level: str) -> None:
    root = log_to_stderr(level)
    # waitress logs each refused or reset connection: the server counts them instead.
    logging.getLogger("waitress").setLevel(max(logging.WARNING, root.level))
