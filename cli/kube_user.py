"""What the kubeconfig's user presents to an agent: a bearer token, which the agent checks
(TokenReview), or a client certificate, which only the API server can check."""

from __future__ import annotations

from typing import Any


def bearer(configuration: Any) -> str | None:
    """`Bearer <token>` of a loaded client configuration (static, exec plugin or OIDC, refreshed
    by the client's hook); None when the user has none. The client keeps it under
    "BearerToken", "authorization" being only an alias."""
    value = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
    return str(value) if value else None


def has_client_certificate(configuration: Any, kubeconfig: str | None, context: str | None) -> bool:
    """Whether the user is a client certificate. The client loads one only for an https
    server, so the kubeconfig itself is read too."""
    if configuration.cert_file:
        return True
    from kubernetes.config import kube_config

    try:
        paths = kubeconfig or kube_config.KUBE_CONFIG_DEFAULT_LOCATION
        users = kube_config.KubeConfigMerger(paths).config["users"]
        contexts, active = kube_config.list_kube_config_contexts(config_file=paths)
        chosen = next((c for c in contexts if c["name"] == context), active)
        user = users.get_with_name(chosen["context"]["user"])["user"].value
        return any(key.startswith("client-certificate") for key in user)
    except Exception:
        return False


def certificate_note(configuration: Any, kubeconfig: str | None, context: str | None) -> str:
    """Why an agent that requires a token refused a user with a client certificate alone."""
    if bearer(configuration) is None and has_client_certificate(configuration, kubeconfig, context):
        return (
            " (the kubeconfig's user has a client certificate and no token: this agent "
            "requires a bearer token, and a client certificate cannot be checked by it)"
        )
    return ""
