"""The server's access reviews against a fake API client: what is asked (the review documents),
how long answers are kept, the cap on reviews in flight, and an API that fails as a 503."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from nsinspect.agent.exchange.kube_api import KubeApiError
from nsinspect.agent.server.access import (
    ACCESS_REVIEWS,
    TOKEN_REVIEWS,
    AccessReviews,
    ExpiringCache,
    bearer_token,
)
from nsinspect.agent.server.request_checks import ApiError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeApi:
    """TokenReview: token "t-<user>" is <user>; SAR: allowed where `allowed` says."""

    def __init__(self, allowed: set[str], fail: Exception | None = None) -> None:
        self.allowed = allowed
        self.fail = fail
        self.posts: list[tuple[str, Any]] = []
        self.gate: threading.Event | None = None

    def post_json(self, path: str, body: Any, timeout: float) -> Any:
        self.posts.append((path, body))
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail is not None:
            raise self.fail
        if path == TOKEN_REVIEWS:
            token = body["spec"]["token"]
            if token.startswith("t-"):
                user = {"username": token[2:], "uid": "u1", "groups": ["g"], "extra": {"k": ["v"]}}
                return {"status": {"authenticated": True, "user": user}}
            return {"status": {"authenticated": False, "error": "token lookup failed"}}
        attributes = body["spec"].get("resourceAttributes") or body["spec"]["nonResourceAttributes"]
        key = attributes.get("namespace", attributes.get("path"))
        return {"status": {"allowed": key in self.allowed}}


def reviews(api: FakeApi, clock: Clock) -> AccessReviews:
    return AccessReviews(api, clock)  # type: ignore[arg-type]


def test_the_review_documents_carry_the_user_and_the_attributes() -> None:
    api = FakeApi({"ns1"})
    checks = reviews(api, Clock())
    asker = checks.authenticate("t-alice")
    assert checks.may_get_pods(asker, "ns1", "web") is True
    assert checks.may_get_pods(asker, "ns2") is False
    assert checks.may_get_path(asker, "/metrics") is False
    (token_path, token_review), (sar_path, sar), *_ = api.posts
    assert token_path == TOKEN_REVIEWS and token_review == {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": "t-alice"},
    }  # fmt: skip
    wanted = {"namespace": "ns1", "verb": "get", "resource": "pods", "name": "web"}
    assert sar_path == ACCESS_REVIEWS and sar["spec"] == {
        "user": "alice", "uid": "u1", "groups": ["g"], "extra": {"k": ["v"]},
        "resourceAttributes": wanted,
    }  # fmt: skip
    assert api.posts[-1][1]["spec"]["nonResourceAttributes"] == {"path": "/metrics", "verb": "get"}


def test_answers_are_kept_60_s_accepted_10_s_refused_30_s_access() -> None:
    api, clock = FakeApi({"ns1"}), Clock()
    checks = reviews(api, clock)
    asker = checks.authenticate("t-alice")
    with pytest.raises(ApiError) as refused:
        checks.authenticate("forged")
    assert refused.value.code == 401
    assert refused.value.message == "the token was not accepted: token lookup failed"
    checks.may_get_pods(asker, "ns1")
    assert len(api.posts) == 3
    clock.now += 9
    checks.authenticate("t-alice")
    checks.may_get_pods(asker, "ns1")
    with pytest.raises(ApiError):
        checks.authenticate("forged")
    assert len(api.posts) == 3
    clock.now += 2  # 11 s: the refusal is asked again
    with pytest.raises(ApiError):
        checks.authenticate("forged")
    assert len(api.posts) == 4
    clock.now += 20  # 31 s: the access answer is asked again, the accepted token is not
    checks.authenticate("t-alice")
    checks.may_get_pods(asker, "ns1")
    assert [p for p, _ in api.posts[4:]] == [ACCESS_REVIEWS]
    clock.now += 30  # 61 s
    checks.authenticate("t-alice")
    assert api.posts[-1][0] == TOKEN_REVIEWS


def test_the_cache_keeps_at_most_its_entries() -> None:
    clock = Clock()
    cache: ExpiringCache[int] = ExpiringCache(3, clock)
    for key in range(5):
        cache.put(key, key, 10)
    assert [cache.get(k) for k in range(5)] == [None, None, 2, 3, 4]
    clock.now += 11
    assert cache.get(4) is None


def test_at_most_four_reviews_in_flight() -> None:
    api = FakeApi(set())
    api.gate = threading.Event()
    checks = reviews(api, Clock())
    threads = [
        threading.Thread(target=lambda i=i: checks.authenticate(f"t-user{i}")) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    while len(api.posts) < 4:
        threading.Event().wait(0.01)
    try:
        with pytest.raises(ApiError) as busy:
            checks.authenticate("t-fifth")
        assert (busy.value.code, busy.value.message) == (
            503, "too many access checks in flight; try again",
        )  # fmt: skip
    finally:
        api.gate.set()
        for thread in threads:
            thread.join()
    assert checks.authenticate("t-fifth").username == "fifth"


@pytest.mark.parametrize(
    "failure",
    [
        KubeApiError(0, "the connection to the API server x was refused"),
        KubeApiError(500, "etcd is down"),
        OSError("no such file"),
    ],
)
def test_an_api_that_fails_is_a_503(failure: Exception) -> None:
    checks = reviews(FakeApi(set(), fail=failure), Clock())
    with pytest.raises(ApiError) as failed:
        checks.authenticate("t-alice")
    assert failed.value.code == 503
    assert failed.value.message.startswith("cannot check access with the Kubernetes API: ")


def test_an_answer_that_is_not_an_object_is_a_refusal_not_a_crash() -> None:
    api = FakeApi(set())
    api.post_json = lambda path, body, timeout: {"status": "weird"}  # type: ignore[method-assign]
    with pytest.raises(ApiError) as refused:
        reviews(api, Clock()).authenticate("t-alice")
    assert refused.value.code == 401


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer ", None),
        ("", None),
    ],
)
def test_bearer_token(header: str, token: str | None) -> None:
    assert bearer_token({"HTTP_AUTHORIZATION": header} if header else {}) == token
