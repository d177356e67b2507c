"""The "Did you mean" of a pod not found (cli/lookup.py): the same pods as comparing every pod's
name with the rest would give, found with one comparison per pod."""

from __future__ import annotations

import difflib
import time

import pytest

from nsinspect.cli.lookup import PodNotFoundError, find_pod

PodName = tuple[str, str]


def pairwise(pods: list[PodName], name: str) -> list[PodName]:
    """The suggestion as first written: a get_close_matches over every name, per pod."""
    return [
        pod
        for pod in pods
        if pod[1] in difflib.get_close_matches(name, [p[1] for p in pods], 5, 0.6)
    ]


def suggested(pods: list[PodName], name: str) -> str:
    with pytest.raises(PodNotFoundError) as caught:
        find_pod(pods, name, None)
    return str(caught.value)


NODE = [
    ("default", "web-0"), ("default", "web-1"), ("shop", "web-0"), ("", "web"),
    ("kube-system", "coredns-5d78c9869d-abcde"), ("", "net-4026532281"), ("db", "postgres-0"),
]  # fmt: skip


@pytest.mark.parametrize("name", ["web-2", "wab-0", "coredns", "net-4026532282", "postgres", "x"])
def test_the_suggested_pods_are_the_pairwise_ones(name: str) -> None:
    message = suggested(NODE, name)
    close = pairwise(NODE, name)
    for namespace, pod in NODE:
        label = f"{namespace}/{pod}" if namespace else f"{pod} (no namespace)"
        assert (label in message) == ((namespace, pod) in close), (name, label, message)
    assert ("Did you mean" in message) == bool(close)


def test_a_missing_name_among_thousands_of_pods_is_answered_at_once() -> None:
    pods = [(f"ns-{i % 7}", f"net-40265{i:05d}") for i in range(2000)]
    started = time.process_time()
    message = suggested(pods, "net-4026500012x")
    assert time.process_time() - started < 1.0  # pairwise: minutes at this size
    assert "ns-5/net-4026500012" in message
