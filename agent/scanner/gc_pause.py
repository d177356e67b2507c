"""Keep Python's cyclic garbage collector out of a burst of allocations.

A scan allocates tens of thousands of small objects (processes, pods, verdicts) and frees them by
reference counting; it makes no reference cycles of its own. The cyclic collector, triggered by
allocation counts, would still run dozens of times per scan and walk every live object each time
(a fifth of the pairing's time at 3,500 processes, measured). Paused for the scan, it runs after.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def gc_paused(func: Callable[P, T]) -> Callable[P, T]:
    """Run `func` with the cyclic collector disabled, restoring its state after."""

    @functools.wraps(func)
    def paused(*args: P.args, **kwargs: P.kwargs) -> T:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused
