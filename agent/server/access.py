"""Who asks, and what they may see: the bearer token checked with TokenReview, then
SubjectAccessReview for `get pods` in a namespace (or `get` on a non-resource path such as
/metrics). Answers are cached (a token 60 s when accepted, 10 s when refused; an access answer 30 s)
and at most 4 reviews are in flight: a flood of fresh tokens costs the API server little."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..exchange.kube_api import KubeApi, KubeApiError
from .request_checks import ApiError

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
ACCEPTED_SECONDS = 60.0
REFUSED_SECONDS = 10.0
ACCESS_SECONDS = 30.0
CACHE_ENTRIES = 1024
IN_FLIGHT = 4
REVIEW_TIMEOUT = 5.0  # seconds for one review

V = TypeVar("V")


@dataclass(frozen=True)
class Asker:
    """A user the API server vouched for."""

    username: str
    uid: str
    groups: tuple[str, ...]
    extra: tuple[tuple[str, tuple[str, ...]], ...]

    def spec(self) -> dict[str, Any]:
        return {
            "user": self.username,
            "uid": self.uid,
            "groups": list(self.groups),
            "extra": {key: list(values) for key, values in self.extra},
        }


@dataclass(frozen=True)
class TokenVerdict:
    asker: Asker | None
    refusal: str  # why the token was not accepted ("" when it was)


class ExpiringCache(Generic[V]):
    """At most `entries` answers, each until its own expiry; the oldest go first when full."""

    def __init__(self, entries: int, clock: Callable[[], float]) -> None:
        self._entries = entries
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[0] <= self._clock():
                del self._items[key]
                return None
            return found[1]

    def put(self, key: Hashable, value: V, seconds: float) -> None:
        with self._lock:
            self._items.pop(key, None)
            while len(self._items) >= self._entries:
                self._items.popitem(last=False)
            self._items[key] = (self._clock() + seconds, value)


class AccessReviews:
    """TokenReview and SubjectAccessReview, cached, with a cap on the calls in flight."""

    def __init__(self, api: KubeApi, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self._tokens: ExpiringCache[TokenVerdict] = ExpiringCache(CACHE_ENTRIES, clock)
        self._access: ExpiringCache[tuple[bool, str]] = ExpiringCache(CACHE_ENTRIES, clock)
        self._in_flight = threading.BoundedSemaphore(IN_FLIGHT)

    def authenticate(self, token: str) -> Asker:
        """The token's user; ApiError 401 when the API server does not accept it."""
        key = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        verdict = self._tokens.get(key)
        if verdict is None:
            verdict = self._review_token(token)
            seconds = ACCEPTED_SECONDS if verdict.asker else REFUSED_SECONDS
            self._tokens.put(key, verdict, seconds)
        if verdict.asker is None:
            raise ApiError(401, f"the token was not accepted: {verdict.refusal}")
        return verdict.asker

    def may_get_pods(self, asker: Asker, namespace: str, name: str | None = None) -> bool:
        """`get pods` (the one named, if given) in `namespace`; "" asks for every namespace."""
        attributes: dict[str, str] = {"namespace": namespace, "verb": "get", "resource": "pods"}
        if name is not None:
            attributes["name"] = name
        return self._allowed(asker, {"resourceAttributes": attributes})

    def may_get_path(self, asker: Asker, path: str) -> bool:
        return self._allowed(asker, {"nonResourceAttributes": {"path": path, "verb": "get"}})

    def _allowed(self, asker: Asker, attributes: dict[str, Any]) -> bool:
        key = (asker, repr(sorted((k, sorted(v.items())) for k, v in attributes.items())))
        answer = self._access.get(key)
        if answer is None:
            review = self._post(
                ACCESS_REVIEWS,
                {
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SubjectAccessReview",
                    "spec": {**asker.spec(), **attributes},
                },
            )
            status = _object(review.get("status"))
            answer = (status.get("allowed") is True, str(status.get("reason") or ""))
            self._access.put(key, answer, ACCESS_SECONDS)
        return answer[0]

    def _review_token(self, token: str) -> TokenVerdict:
        review = self._post(
            TOKEN_REVIEWS,
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": token},
            },
        )
        status = _object(review.get("status"))
        user = _object(status.get("user"))
        if status.get("authenticated") is not True or not isinstance(user.get("username"), str):
            return TokenVerdict(None, str(status.get("error") or "the API server did not say why"))
        return TokenVerdict(_asker(user), "")

    def _post(self, path: str, document: dict[str, Any]) -> dict[str, Any]:
        if not self._in_flight.acquire(blocking=False):
            raise ApiError(503, "too many access checks in flight; try again")
        try:
            answer = self.api.post_json(path, document, REVIEW_TIMEOUT)
        except KubeApiError as exc:
            raise ApiError(503, f"cannot check access with the Kubernetes API: {exc}") from exc
        except (OSError, ValueError) as exc:  # TLS credentials that cannot be loaded
            raise ApiError(503, f"cannot check access with the Kubernetes API: {exc}") from exc
        finally:
            self._in_flight.release()
        if not isinstance(answer, dict):
            raise ApiError(503, "cannot check access: the Kubernetes API answered no object")
        return answer


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _asker(user: dict[str, Any]) -> Asker:
    extra = _object(user.get("extra"))
    return Asker(
        username=str(user["username"]),
        uid=str(user.get("uid") or ""),
        groups=_strings(user.get("groups")),
        extra=tuple(sorted((str(k), _strings(v)) for k, v in extra.items())),
    )


def bearer_token(environ: dict[str, Any]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without one."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
