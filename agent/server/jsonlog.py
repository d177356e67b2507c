"""The server's logs: JSON lines on stderr, as the scanner's (exchange/jsonlog.py)."""

from __future__ import annotations

import logging

from ..exchange.jsonlog import LEVELS, log_to_stderr

__all__ = ["LEVELS", "configure"]


def configure(level: str) -> None:
    root = log_to_stderr(level)
    # waitress logs each refused or reset connection, and a warning for every request that
    # waits for a thread: under a flood that is a log line per request. The server counts
    # what it refuses instead (nsinspect_server_rejected_connections_total).
    logging.getLogger("waitress").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
