"""Why a scan cannot start at all."""

from __future__ import annotations


class ProcRootError(Exception):
    """The proc root cannot be listed at all: nothing can be scanned."""
