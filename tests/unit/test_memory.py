"""The agent pins glibc's mmap threshold (and carries on where the C library has no mallopt)."""

from __future__ import annotations

import platform

from nsinspect.agent.exchange.memory import pin_mmap_threshold


def test_pinning_the_mmap_threshold_works_on_glibc() -> None:
    assert pin_mmap_threshold() is (platform.libc_ver()[0] == "glibc")
