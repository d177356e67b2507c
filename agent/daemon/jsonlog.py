"""Logs as one JSON object per line, for the node's log pipeline (the formatter is shared with
the server: exchange/jsonlog.py)."""

from __future__ import annotations

import logging

from ..exchange.jsonlog import LEVELS, JsonFormatter, log_to_stderr

__all__ = ["LEVELS", "JsonFormatter", "configure"]


def configure(level: str) -> None:
    log_to_stderr(level)
    # The Kubernetes client logs every reconnect attempt at warning; our watcher says it once.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
