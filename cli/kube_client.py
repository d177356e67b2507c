"""The official client's configuration for remote mode, as kubectl makes its own: the kubeconfig
kubectl would read (--kubeconfig, $KUBECONFIG, ~/.kube/config) with its context, else the pod's
service account; the default namespace kubectl would use. What is wrong with the configuration
is said in kubectl's words (`Error in configuration: ...`). The client is imported here, only
when remote mode asks a question."""

from __future__ import annotations

import os
import re
from typing import Any

from .kubeconfig import find_kubeconfig, in_cluster_account, service_account
from .remote_errors import ApiError

# The official client's ConfigException for a name the kubeconfig does not hold.
MISSING_NAME = re.compile(
    r"Expected object with name (?P<name>.*) in (?P<file>.*)/(?P<kind>\w+) list"
)


def configuration_failure(exc: Exception) -> ApiError:
    """kubectl's words for a configuration the client refused."""
    text = str(exc)
    found = MISSING_NAME.search(text)
    if found is not None:
        name, kind = found.group("name"), found.group("kind")
        if kind == "contexts":
            return ApiError(f'error: context "{name}" does not exist')
        what = f'{kind.removesuffix("s")} "{name}" not found in {found.group("file")}'
    else:
        what = text.removeprefix("Invalid kube-config file. ").strip() or type(exc).__name__
    return ApiError(f"Error in configuration: {what}")


def load_configuration(kubeconfig: str | None, context: str | None) -> Any:
    """The client's Configuration, from the usable kubeconfig files or the service account;
    an ApiError when neither can be used."""
    from kubernetes import client, config
    from kubernetes.config.incluster_config import InClusterConfigLoader

    configuration = client.Configuration()
    usable = find_kubeconfig(kubeconfig).usable
    try:
        if usable:
            config.load_kube_config(
                config_file=os.pathsep.join(usable),
                context=context,
                client_configuration=configuration,
            )
        else:
            account = in_cluster_account() or service_account()
            InClusterConfigLoader(
                token_filename=str(account.token), cert_filename=str(account.ca)
            ).load_and_set(configuration)
    except Exception as exc:  # ConfigException, YAML and OS errors of the files it reads
        raise configuration_failure(exc) from exc
    configuration.retries = 0  # fail fast and say so; the user can run it again
    return configuration


def default_namespace(kubeconfig: str | None, context: str | None) -> str:
    """kubectl's: the context's namespace; inside a pod without a kubeconfig, the pod's own
    (its service account's namespace file); else `default`."""
    usable = find_kubeconfig(kubeconfig).usable
    if not usable:
        return service_account().namespace() or "default"
    from kubernetes import config

    try:
        contexts, active = config.list_kube_config_contexts(config_file=os.pathsep.join(usable))
    except Exception:
        return "default"
    chosen = next((c for c in contexts if c["name"] == context), active) or {}
    namespace = (chosen.get("context") or {}).get("namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"
