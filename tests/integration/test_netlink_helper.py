"""The netlink helper `nsinspect pod NAME` forks before its scan (agent/namespace_contents/
netlink_helper.py) answers as this process does itself (netlink_reads.answer), for a synthetic
pod's network namespace and the node's, and for a path that cannot be entered; and it leaves no
process behind, whether asked, never asked, or gone before it was asked."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.synthetic import SyntheticPod, start_pod
from nsinspect.agent.namespace_contents.netlink_helper import NetlinkHelper
from nsinspect.agent.namespace_contents.netlink_reads import (
    NetlinkAnswers,
    NetlinkRequest,
    OwnNamespace,
    answer,
)

pytestmark = pytest.mark.root


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[SyntheticPod]:
    started = start_pod(tmp_path, containers=1)
    yield started
    started.stop()


def request_for(pod_pid: int) -> NetlinkRequest:
    """As a pod's report asks it of a node whose network namespace this process is in (the
    test's own stands for the node's: pid 1's may be closed even to root, in a VM)."""
    return NetlinkRequest(
        pod_path=f"/proc/{pod_pid}/ns/net",
        pod_read=True,
        pod_own=False,
        node_path=f"/proc/{os.getpid()}/ns/net",
        node_read=True,
        node_own=True,
    )


def helper() -> NetlinkHelper:
    started = NetlinkHelper.start()
    assert started is not None
    return started


def assert_reaped(pid: int) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def answered_alike(
    request: NetlinkRequest, by_helper: bool = True
) -> tuple[NetlinkAnswers, NetlinkAnswers]:
    """The helper's answer and this process's, read while the node's interfaces held still
    (other tests add and remove veths): this process reads before and after the helper.
    `by_helper`: whether the helper's child answered (a failed read is read here again)."""
    for _ in range(5):
        before = answer(request)
        asked = helper()
        try:
            helped = asked.ask(request)()
        finally:
            asked.close()
        assert_reaped(asked.pid)
        assert asked.answered == by_helper
        if answer(request) == before:
            return helped, before
    pytest.fail("the node's interfaces changed during every attempt")


def test_the_helper_reads_a_pod_and_the_node_as_this_process_does(pod: SyntheticPod) -> None:
    helped, own = answered_alike(request_for(pod.holder_pid))
    assert helped == own
    assert helped.pod_view is not None and not helped.pod_failure
    assert [i.name for i in helped.pod_view.interfaces] == ["lo"]  # the pod's own namespace
    assert helped.node_view is not None and helped.node_view.interfaces


def test_the_node_read_ahead_is_the_node_read_on_request(pod: SyntheticPod) -> None:
    request = request_for(pod.holder_pid)
    for _ in range(5):
        before = answer(request)
        ahead = answer(request, OwnNamespace())
        if answer(request) == before:
            assert ahead == before
            return
    pytest.fail("the node's interfaces changed during every attempt")


def test_a_namespace_that_cannot_be_entered_fails_alike() -> None:
    gone = max(int(p) for p in os.listdir("/proc") if p.isdigit()) + 100_000
    helped, own = answered_alike(request_for(gone), by_helper=False)
    assert helped == own
    assert helped.pod_view is None and helped.pod_failure


def test_a_helper_never_asked_is_ended_at_once() -> None:
    started = time.monotonic()
    asked = helper()
    asked.close()
    assert time.monotonic() - started < 2.0  # killed, not waited for through its imports
    assert_reaped(asked.pid)


def test_a_helper_gone_before_it_is_asked_leaves_the_reads_to_this_process(
    pod: SyntheticPod,
) -> None:
    request = request_for(pod.holder_pid)
    asked = helper()
    os.kill(asked.pid, signal.SIGKILL)
    answers = asked.ask(request)()
    asked.close()
    assert_reaped(asked.pid)
    assert answers.pod_view is not None
    assert answers.pod_view == answer(request).pod_view
