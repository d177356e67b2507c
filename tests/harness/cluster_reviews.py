"""The stand-in API server's authentication and authorization: TokenReview and
SubjectAccessReview answered in the real API's JSON shapes, from the test's token and RBAC tables.

Shapes follow the Go types: TokenReviewStatus has `authenticated` and `error` with omitempty and
`user` always present (`{}` when unknown); SubjectAccessReviewStatus has `allowed` always and
`reason` with omitempty. Only for tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

AUTHENTICATED = "system:authenticated"
EVERY_NAMESPACE = "*"
TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEW_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def user_info(username: str) -> dict[str, Any]:
    return {"username": username, "uid": f"uid-{username}", "groups": [AUTHENTICATED]}


def token_review(tokens: Mapping[str, str], body: Any) -> tuple[int, dict[str, Any]]:
    """The answer to POST tokenreviews: (HTTP status, document)."""
    spec = body.get("spec") if isinstance(body, dict) else None
    token = spec.get("token") if isinstance(spec, dict) else None
    if not isinstance(token, str) or not token:
        return 400, bad_request("spec.token: Required value")
    status: dict[str, Any] = {"user": {}}
    if token in tokens:
        status = {"authenticated": True, "user": user_info(tokens[token]), "audiences": []}
    else:
        status["error"] = "[invalid bearer token, token lookup failed]"
    return 201, {
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }


def may_get_pods(
    rbac: Mapping[str, Set[str]], subjects: list[str], namespace: str, verb: str = "get"
) -> bool:
    """RBAC of the stand-in: `get pods` in the namespaces listed for the user or one of its
    groups; "*" is every namespace, the only rule that also covers the cluster scope ("")."""
    if verb != "get":
        return False
    for subject in subjects:
        allowed = rbac.get(subject, set())
        if EVERY_NAMESPACE in allowed or (namespace and namespace in allowed):
            return True
    return False


def access_review(
    rbac: Mapping[str, Set[str]], non_resource: Mapping[str, Set[str]], body: Any
) -> tuple[int, dict[str, Any]]:
    """The answer to POST subjectaccessreviews: (HTTP status, document)."""
    spec = body.get("spec") if isinstance(body, dict) else None
    if not isinstance(spec, dict) or not (spec.get("user") or spec.get("groups")):
        return 400, bad_request("spec.user: Invalid value: \"\": at least one of user or group "
                                "must be specified")  # fmt: skip
    resource = spec.get("resourceAttributes")
    other = spec.get("nonResourceAttributes")
    if (resource is None) == (other is None):
        return 400, bad_request(
            "spec.resourceAttributes: Invalid value: exactly one of nonResourceAttributes or "
            "resourceAttributes must be specified"
        )
    subjects = [str(spec.get("user") or ""), *map(str, spec.get("groups") or [])]
    if resource is not None:
        allowed = (
            resource.get("resource") == "pods"
            and not resource.get("subresource")
            and resource.get("group", "") == ""
            and may_get_pods(rbac, subjects, resource.get("namespace", ""), resource.get("verb"))
        )
    else:
        allowed = other.get("verb") == "get" and any(
            other.get("path") in non_resource.get(subject, set()) for subject in subjects
        )
    status: dict[str, Any] = {"allowed": allowed}
    if allowed:
        status["reason"] = (
            f'RBAC: allowed by ClusterRoleBinding "standin" of ClusterRole "standin" '
            f'to User "{spec.get("user")}"'
        )
    return 201, {
        "kind": "SubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }


def bad_request(message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "BadRequest", "code": 400}  # fmt: skip
