"""Kubernetes intent: the pods of this node, from the API server, kept current by a watch.

The agent never blocks a scan on the API: this runs in its own thread, and the scan reads the
latest intents (a dict replaced whole, never mutated in place). When the API is unreachable the
agent goes on with runtime data alone and says so (`up` is False, with the error). The CLI's
local mode lists the node's pods once through the same functions (`list_node_intents`).

Besides what the spec asks for, each pod's intent names it and its containers (by the ids of its
container statuses): the names a pod known only from its cgroups gets (pairing/kube_names.py).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..exchange.kube_api import ApiCredentials, KubeApi, KubeApiError
from ..model import NameSource, PodIntent, Snapshot, is_container_id
from .kubeconfig_resolve import resolve

LOG = logging.getLogger("nsinspect.kube")
GONE = 410
FORBIDDEN = 403
UNAUTHORIZED = 401
LIST_SECONDS = 30.0
STATUS_KEYS = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")
# The pods of one node by uid, as the watch and local mode hold them.
NodeIntents = dict[str, PodIntent]
MAX_BACKOFF_SECONDS = 30.0
WATCH_SECONDS = 300  # the server ends a watch after this; it is then resumed from the last version


def intent_from_pod(pod: object) -> tuple[str, PodIntent] | None:
    """A pod object of the API (its JSON) -> (uid, intent); None without a uid. Any other key
    missing or of the wrong type is taken as unset: one odd pod never costs the others."""
    metadata, spec = _object(_object(pod).get("metadata")), _object(_object(pod).get("spec"))
    uid = _text(metadata.get("uid"))
    if not uid:
        return None
    return uid, PodIntent(
        host_network=spec.get("hostNetwork") is True,
        host_ipc=spec.get("hostIPC") is True,
        host_pid=spec.get("hostPID") is True,
        share_process_namespace=spec.get("shareProcessNamespace") is True,
        container_names=tuple(
            name for c in _list(spec.get("containers")) if (name := _text(_object(c).get("name")))
        ),
        name=_text(metadata.get("name")),
        namespace=sys.intern(_text(metadata.get("namespace"))),
        container_ids=_container_ids(_object(_object(pod).get("status"))),
        labels=_labels(metadata.get("labels")),
    )


def _labels(value: object) -> dict[str, str] | None:
    """metadata.labels, its string pairs; None where the object has none."""
    if not isinstance(value, dict):
        return None
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _container_ids(status: dict[str, object]) -> dict[str, str]:
    """Runtime container id -> container name, from every kind of container status. The id is
    kept only where it can match a container on the node: 64 hex digits after the runtime's
    `<scheme>://` (`containerd://`, `cri-o://`, `docker://`)."""
    found: dict[str, str] = {}
    for key in STATUS_KEYS:
        for entry in _list(status.get(key)):
            name = _text(_object(entry).get("name"))
            _, sep, container_id = _text(_object(entry).get("containerID")).partition("://")
            if name and sep and is_container_id(container_id):
                found[container_id] = sys.intern(name)
    return found


def _object(value: object) -> dict[str, object]:
    """A JSON object's fields; {} for anything else."""
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def node_intents(listing: object) -> tuple[NodeIntents, str]:
    """A PodList (its JSON) -> intents by pod uid, and the list's resourceVersion."""
    listing = _object(listing)
    pairs = (intent_from_pod(pod) for pod in _list(listing.get("items")))
    version = _text(_object(listing.get("metadata")).get("resourceVersion"))
    return dict(pair for pair in pairs if pair is not None), version


def node_selector(node_name: str) -> str:
    """The field selector of the pods bound to one node."""
    return f"spec.nodeName={node_name}"


def list_node_intents(
    core: Any, node_name: str, timeout: tuple[float, float] = (5, 30)
) -> tuple[NodeIntents, str]:
    """The intents of the pods on one node, listed once, and the list's resourceVersion.

    Read as JSON, not as the official client's models: the client refuses a whole list for
    one pod it cannot build, where `intent_from_pod` keeps what it can of each."""
    response = core.list_pod_for_all_namespaces(
        field_selector=node_selector(node_name),
        _request_timeout=timeout,
        _preload_content=False,
    )
    try:
        listing = json.loads(response.data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"the pod list is not JSON: {exc}") from exc
    finally:
        response.release_conn()
    return node_intents(listing)


def unnamed_kubelet_pods(snapshot: Snapshot) -> bool:
    """Whether a pod with a Kubernetes uid has a placeholder for its name or a container's:
    what the API server could name."""
    return any(
        pod.uid
        and (
            pod.names_from is NameSource.PLACEHOLDER
            or any(c.identity.names_from is NameSource.PLACEHOLDER for c in pod.containers)
        )
        for pod in snapshot.pods
    )


def api_error_reason(exc: Exception) -> str:
    """Why a call to the API server failed, in a short phrase."""
    if isinstance(exc, KubeApiError):
        if exc.status == FORBIDDEN:
            return f"forbidden by RBAC (403): {exc.message}"
        return f"API error {exc.status}: {exc.message}" if exc.status else exc.message
    if type(exc).__module__.startswith("kubernetes"):  # the CLI's calls, with the official client
        from kubernetes.client.exceptions import ApiException

        if isinstance(exc, ApiException):
            if exc.status == FORBIDDEN:
                return f"forbidden by RBAC (403): {exc.reason}"
            return f"API error {exc.status}: {exc.reason}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def api_for(kubeconfig: str | None, context: str | None = None) -> KubeApi:
    """The API of a kubeconfig, or of the pod's service account when none is given."""
    if kubeconfig:
        return KubeApi(ApiCredentials.from_json(resolve(kubeconfig, context)))
    return KubeApi(ApiCredentials.in_cluster())


def load_core_api(
    kubeconfig: str | None,
    context: str | None = None,
    *,
    in_cluster: bool | None = None,
    retries: int | None = None,
) -> Any:
    """A CoreV1Api from a kubeconfig file (its default places where `kubeconfig` is None), or
    from the in-cluster service account (by default when no kubeconfig is given). `retries`:
    how often urllib3 tries again after a failed connection (its default when None)."""
    from kubernetes import client, config  # heavy (~20 MiB): only when a cluster is configured

    configuration = client.Configuration()
    if in_cluster if in_cluster is not None else not kubeconfig:
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    if retries is not None:
        configuration.retries = retries
    return client.CoreV1Api(client.ApiClient(configuration))


class PodIntentWatcher:
    """Lists then watches the pods of one node; relists on 410 Gone, backs off on errors."""

    def __init__(
        self,
        api_factory: Callable[[], KubeApi],
        node_name: str,
        stop: threading.Event,
        initial_backoff: float = 1.0,
    ) -> None:
        self._factory = api_factory
        self.node_name = node_name
        self._stop = stop
        self._initial_backoff = initial_backoff
        self._intents: dict[str, PodIntent] = {}
        self.up = False
        self.last_error = "not connected yet"

    def intents(self) -> Mapping[str, PodIntent]:
        return self._intents

    def run(self) -> None:
        backoff = self._initial_backoff
        api = None
        while not self._stop.is_set():
            try:
                api = api or self._factory()
                version = self._relist(api)
                backoff = self._initial_backoff
                self._watch(api, version)
            except KubeApiError as exc:
                if exc.status == GONE:
                    LOG.info("pod watch expired (410 Gone); listing again")
                    continue
                if exc.status == UNAUTHORIZED:
                    api = None  # credentials from a kubeconfig's exec plugin expire: load anew
                self._down(api_error_reason(exc))
            except Exception as exc:  # credentials that cannot be loaded, a bug: "not reachable"
                self._down(api_error_reason(exc))
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _down(self, error: str) -> None:
        if self.up or error != self.last_error:
            LOG.warning("Kubernetes API unreachable; working on runtime data alone: %s", error)
        self.up = False
        self.last_error = error

    def _relist(self, api: KubeApi) -> str:
        """Read as JSON: one pod the agent cannot make sense of never costs the others."""
        listing = api.get_json(
            "/api/v1/pods", {"fieldSelector": node_selector(self.node_name)}, LIST_SECONDS
        )
        self._intents, version = node_intents(listing)
        if not self.up:
            LOG.info("Kubernetes API up: %d pods on node %s", len(self._intents), self.node_name)
        self.up = True
        self.last_error = ""
        return version

    def _watch(self, api: KubeApi, version: str) -> None:
        """Follow changes until stopped; raises KubeApiError(410) when the version expired."""
        while not self._stop.is_set():
            query = {
                "fieldSelector": node_selector(self.node_name),
                "resourceVersion": version,
                "timeoutSeconds": str(WATCH_SECONDS),
                "allowWatchBookmarks": "true",
            }
            for event in api.watch("/api/v1/pods", query, WATCH_SECONDS + 30):
                version = self._apply(event) or version
                if self._stop.is_set():
                    return

    def _apply(self, event: object) -> str:
        """One watch event applied to the intents; the resourceVersion it carries, "" for none."""
        event = _object(event)
        pod = event.get("object")
        metadata = _object(_object(pod).get("metadata"))
        if event.get("type") == "ERROR":
            status = _object(pod)
            code = status.get("code")
            raise KubeApiError(code if isinstance(code, int) else 0, _text(status.get("message")))
        if event.get("type") in ("ADDED", "MODIFIED"):
            found = intent_from_pod(pod)
            if found is not None:
                self._intents = {**self._intents, found[0]: found[1]}
        elif event.get("type") == "DELETED":
            gone = _text(metadata.get("uid"))
            self._intents = {uid: i for uid, i in self._intents.items() if uid != gone}
        return _text(metadata.get("resourceVersion"))
