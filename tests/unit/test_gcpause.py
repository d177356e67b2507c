"""The collector is paused for the call only, and left as the caller had it."""

from __future__ import annotations

import gc

import pytest

from nsinspect.agent.scanner.gc_pause import gc_paused


@gc_paused
def collector_enabled_inside(fail: bool = False) -> bool:
    if fail:
        raise RuntimeError("scan failed")
    return gc.isenabled()


def test_paused_inside_and_enabled_again_after_a_return_or_an_exception() -> None:
    assert gc.isenabled()
    assert collector_enabled_inside() is False
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        collector_enabled_inside(fail=True)
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled() -> None:
    gc.disable()
    try:
        collector_enabled_inside()
        assert not gc.isenabled()
    finally:
        gc.enable()
