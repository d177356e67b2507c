"""A kubeconfig resolved into the credentials the agent's own API client uses, in a process of
its own: `python -m nsinspect.agent.daemon.kubeconfig_resolve [--kubeconfig F] [--context C]`
prints them as one JSON object (exchange/kube_api ApiCredentials).

The official client is what understands every kubeconfig (exec plugins, OIDC, the merged
KUBECONFIG list), and it costs ~43 MiB to import; a short-lived process pays that, so the agent
never holds it. The scanner runs this at start and again when the API refuses its token.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

RESOLVE_SECONDS = 60.0  # an exec plugin may ask a cloud for a token


def resolve(kubeconfig: str | None, context: str | None) -> dict[str, Any]:
    """The credentials of a kubeconfig, from a child process; ValueError says why not."""
    command = [sys.executable, "-m", __name__]
    if kubeconfig:
        command += ["--kubeconfig", kubeconfig]
    if context:
        command += ["--context", context]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=RESOLVE_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ValueError(f"reading the kubeconfig took over {RESOLVE_SECONDS:g} s") from exc
    if done.returncode != 0:
        raise ValueError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _credentials(kubeconfig: str | None, context: str | None) -> dict[str, Any]:
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(
        config_file=kubeconfig, context=context, client_configuration=configuration
    )
    # The client keeps the token under "BearerToken" ("authorization" is only an alias).
    authorization = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
    authorization = authorization or ""

    def pem(path: str | None) -> str | None:
        return Path(path).read_text() if path else None

    return {
        "server": configuration.host,
        "token": authorization.removeprefix("Bearer ").strip() or None,
        "ca_pem": pem(configuration.ssl_ca_cert),
        "cert_pem": pem(configuration.cert_file),
        "key_pem": pem(configuration.key_file),
        "verify": bool(configuration.verify_ssl),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="kubeconfig_resolve")
    parser.add_argument("--kubeconfig")
    parser.add_argument("--context")
    arguments = parser.parse_args()
    try:
        credentials = _credentials(arguments.kubeconfig, arguments.context)
    except Exception as exc:  # every failure of a kubeconfig: one line for the agent's log
        print(f"cannot load the kubeconfig: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    json.dump(credentials, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
