"""Kubernetes intent: the pods of this node, from the API server, kept current by a watch.

The agent never blocks a scan on the API: this runs in its own thread, and the scan reads the
latest intents (a dict replaced whole, never mutated in place). When the API is unreachable the
agent goes on with runtime data alone and says so (`up` is False, with the error).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..model import PodIntent

LOG = logging.getLogger("nsinspect.kube")
GONE = 410
MAX_BACKOFF_SECONDS = 30.0
WATCH_SECONDS = 300  # the server ends a watch after this; it is then resumed from the last version


def intent_from_pod(pod: Any) -> PodIntent:
    """A PodIntent from a `V1Pod` of the official client."""
    spec = pod.spec
    return PodIntent(
        host_network=bool(spec.host_network),
        host_ipc=bool(spec.host_ipc),
        host_pid=bool(spec.host_pid),
        share_process_namespace=bool(spec.share_process_namespace),
        container_names=tuple(c.name for c in spec.containers or ()),
        name=pod.metadata.name or "",
        namespace=pod.metadata.namespace or "",
    )


def load_core_api(kubeconfig: str | None, context: str | None = None) -> Any:
    """A CoreV1Api from a kubeconfig file, or from the in-cluster service account."""
    from kubernetes import client, config  # heavy (~20 MiB): only when a cluster is configured

    configuration = client.Configuration()
    if kubeconfig:
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    else:
        config.load_incluster_config(client_configuration=configuration)
    return client.CoreV1Api(client.ApiClient(configuration))


class PodIntentWatcher:
    """Lists then watches the pods of one node; relists on 410 Gone, backs off on errors."""

    def __init__(
        self,
        core_api_factory: Callable[[], Any],
        node_name: str,
        stop: threading.Event,
        initial_backoff: float = 1.0,
    ) -> None:
        self._factory = core_api_factory
        self.node_name = node_name
        self._stop = stop
        self._initial_backoff = initial_backoff
        self._intents: dict[str, PodIntent] = {}
        self.up = False
        self.last_error = "not connected yet"

    def intents(self) -> Mapping[str, PodIntent]:
        return self._intents

    def run(self) -> None:
        from kubernetes.client.exceptions import ApiException

        backoff = self._initial_backoff
        core = None
        while not self._stop.is_set():
            try:
                core = core or self._factory()
                version = self._relist(core)
                backoff = self._initial_backoff
                self._watch(core, version)
            except ApiException as exc:
                if exc.status == GONE:
                    LOG.info("pod watch expired (410 Gone); listing again")
                    continue
                self._down(f"API error {exc.status}: {exc.reason}")
            except Exception as exc:  # urllib3, socket, config errors: all mean "not reachable"
                self._down(f"{type(exc).__name__}: {exc}")
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _down(self, error: str) -> None:
        if self.up or error != self.last_error:
            LOG.warning("Kubernetes API unreachable; working on runtime data alone: %s", error)
        self.up = False
        self.last_error = error

    def _selector(self) -> str:
        return f"spec.nodeName={self.node_name}"

    def _relist(self, core: Any) -> str:
        listing = core.list_pod_for_all_namespaces(
            field_selector=self._selector(), _request_timeout=(5, 30)
        )
        self._intents = {pod.metadata.uid: intent_from_pod(pod) for pod in listing.items}
        if not self.up:
            LOG.info("Kubernetes API up: %d pods on node %s", len(self._intents), self.node_name)
        self.up = True
        self.last_error = ""
        version: str = listing.metadata.resource_version
        return version

    def _watch(self, core: Any, version: str) -> None:
        """Follow changes until stopped; raises ApiException(410) when the version expired."""
        from kubernetes import watch

        while not self._stop.is_set():
            stream = watch.Watch()
            for event in stream.stream(
                core.list_pod_for_all_namespaces,
                field_selector=self._selector(),
                resource_version=version,
                timeout_seconds=WATCH_SECONDS,
                allow_watch_bookmarks=True,
                _request_timeout=(5, WATCH_SECONDS + 30),
            ):
                pod = event["object"]
                version = pod.metadata.resource_version or version
                if event["type"] in ("ADDED", "MODIFIED"):
                    self._intents = {**self._intents, pod.metadata.uid: intent_from_pod(pod)}
                elif event["type"] == "DELETED":
                    self._intents = {
                        uid: i for uid, i in self._intents.items() if uid != pod.metadata.uid
                    }
                if self._stop.is_set():
                    stream.stop()
