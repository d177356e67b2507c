"""Reports from the cluster's agents, through the API server's pod port-forward: the CLI's
remote mode.

For `nsinspect pod NAME -n NS`: look the pod up, find its node, find the agent pod on that node
(by label), and GET the agent's `/api/v1/pods/NS/NAME` from its API port, which listens on the
pod's loopback only, through `pods/portforward` (cli/portforward.py), with the kubeconfig's bearer
token: the agent checks it (TokenReview) and shows only namespaces where its holder may get pods.
For lists, ask every agent at once and merge, naming the nodes whose agent did not answer. The
documents are the agent's own, so they render exactly like a local report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import msgspec

from ..agent.report import (
    Document,
    FindingList,
    PodList,
    PodReport,
    ScanErrorReport,
    WireError,
    value_or,
)
from . import kube_user, portforward
from .kubeconfig import find_kubeconfig
from .remote_errors import AccessRefusedError, AgentSilentError, RemoteError, explain
from .terminal_text import echo_lines

AGENT_LABELS = "app.kubernetes.io/name=nsinspect,app.kubernetes.io/component=agent"
INSTALL_HINT = "install it with: kubectl apply -k deploy/base (see README, 'Install on a cluster')"
T = TypeVar("T")
D = TypeVar("D", bound=Document)


@dataclass(frozen=True, slots=True)
class RemoteConfig:
    kubeconfig: str | None = None
    context: str | None = None
    agent_namespace: str = "nsinspect"
    agent_port: int = 9978  # the agent's JSON API, on its pod's 127.0.0.1
    timeout: float = 10.0


def kubeconfig_present(kubeconfig: str | None) -> bool:
    """Whether there is a usable kubeconfig, found the way kubectl finds one. One that cannot be
    used counts as none, with a warning; one named with --kubeconfig is an error."""
    search = find_kubeconfig(kubeconfig)
    if search.usable:
        return True
    if kubeconfig:
        why = search.unusable.get(kubeconfig, "does not exist")
        raise click.BadParameter(f"{kubeconfig}: {why}", param_hint="'--kubeconfig'")
    if search.unusable:
        echo_lines([f"warning: {search.warning()}"], err=True)
    return False


def cluster_configured(kubeconfig: str | None) -> bool:
    """A kubeconfig, or a pod's service account: then reports come from the agents."""
    return kubeconfig_present(kubeconfig) or "KUBERNETES_SERVICE_HOST" in os.environ


class RemoteSource:
    """Answers the CLI's questions by asking the agents through the API server."""

    where = "remote"

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        self._core: Any = None
        self.unreachable: dict[str, str] = {}  # node -> why its agent did not answer

    @property
    def core(self) -> Any:
        if self._core is None:
            from kubernetes import client, config

            configuration = client.Configuration()
            try:
                if find_kubeconfig(self.config.kubeconfig).usable:
                    config.load_kube_config(
                        config_file=self.config.kubeconfig,
                        context=self.config.context,
                        client_configuration=configuration,
                    )
                else:
                    config.load_incluster_config(client_configuration=configuration)
            except Exception as exc:
                raise RemoteError(f"cannot load the cluster configuration: {exc}") from exc
            configuration.retries = 0  # fail fast and say so; the user can run it again
            self._core = client.CoreV1Api(client.ApiClient(configuration))
        return self._core

    def default_namespace(self) -> str:
        """The kubeconfig context's namespace, else `default` (as kubectl does)."""
        from kubernetes import config

        try:
            contexts, active = config.list_kube_config_contexts(config_file=self.config.kubeconfig)
        except Exception:
            return "default"
        chosen = next((c for c in contexts if c["name"] == self.config.context), active)
        namespace: str = chosen.get("context", {}).get("namespace") or "default"
        return namespace

    def _call(self, doing: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, _request_timeout=self.config.timeout, **kwargs)
        except Exception as exc:
            raise explain(exc, doing) from exc

    def _agents(self, node: str | None = None) -> list[Any]:
        selector = {"field_selector": f"spec.nodeName={node}"} if node else {}
        listing = self._call(
            f"listing nsinspect agents in namespace {self.config.agent_namespace}",
            self.core.list_namespaced_pod,
            self.config.agent_namespace,
            label_selector=AGENT_LABELS,
            **selector,
        )
        return [pod for pod in listing.items if pod.status and pod.status.phase == "Running"]

    def _authorization(self) -> str | None:
        return kube_user.bearer(self.core.api_client.configuration)

    def _from_agent(self, agent: Any, path: str) -> Any:
        """GET `/path` from one agent's API port through the port-forward: its JSON document.
        Every failure is a RemoteError saying which agent and why."""
        name, node = agent.metadata.name, agent.spec.node_name
        namespace, port = self.config.agent_namespace, self.config.agent_port
        doing = f"reaching agent {name} on node {node}"
        try:
            answer = portforward.get(self.core, namespace, name, port, f"/{path}",
                                     authorization=self._authorization(),
                                     timeout=self.config.timeout)  # fmt: skip
        except portforward.PortForwardRefusedError as exc:
            if exc.status == 403:
                raise AccessRefusedError(
                    f"forbidden by RBAC: you cannot create pods/portforward in namespace "
                    f"{namespace} (needed to reach the agents)"
                ) from exc
            if exc.status == 401:
                raise AccessRefusedError(
                    f"{doing}: unauthorized: the kubeconfig's credentials were refused"
                ) from exc
            raise RemoteError(f"{doing}: the API server answered {exc.status}: {exc}") from exc
        except portforward.ApiUnreachableError as exc:
            raise explain(exc, doing) from exc
        except portforward.PortSilentError as exc:
            raise AgentSilentError(node, port, str(exc)) from exc
        try:
            document = json.loads(answer.body)
        except ValueError as exc:
            raise RemoteError(f"agent {name} sent something that is not JSON") from exc
        if not _is_status(document):
            return document
        message = str(document.get("message") or f"error {answer.status}")
        if answer.status == 403:
            raise AccessRefusedError(message)
        if answer.status == 401:
            raise AccessRefusedError(message + self._certificate_note())
        raise RemoteError(f"agent on node {node}: {message}")

    def _certificate_note(self) -> str:
        configuration = self.core.api_client.configuration
        if self._authorization() is None and kube_user.has_client_certificate(
            configuration, self.config.kubeconfig, self.config.context
        ):
            return (
                " (the kubeconfig's user has a client certificate and no token: this agent "
                "requires a bearer token, and a client certificate cannot be checked by it)"
            )
        return ""

    @staticmethod
    def _parse(agent: Any, document: Any, kind: type[D]) -> D:
        try:
            return kind.from_json(document)
        except WireError as exc:
            raise RemoteError(
                f"agent {agent.metadata.name} sent a malformed answer: {exc}"
            ) from exc

    def pod_report(self, name: str, namespace: str | None) -> PodReport:
        namespace = namespace or self.default_namespace()
        from kubernetes.client.exceptions import ApiException

        try:
            pod = self.core.read_namespaced_pod(
                name, namespace, _request_timeout=self.config.timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                raise RemoteError(f'pod "{name}" not found in namespace "{namespace}"') from exc
            raise explain(exc, f'looking up pod "{name}" in namespace "{namespace}"') from exc
        except Exception as exc:
            raise explain(exc, f'looking up pod "{name}" in namespace "{namespace}"') from exc
        node = pod.spec.node_name
        if not node:
            raise RemoteError(f'pod "{namespace}/{name}" is not scheduled on a node yet')
        agents = self._agents(node)
        if not agents:
            raise RemoteError(f"no nsinspect agent runs on node {node}; {INSTALL_HINT}")
        document = self._from_agent(agents[0], f"api/v1/pods/{namespace}/{name}")
        return self._parse(agents[0], document, PodReport)

    def _from_every_agent(self, path: str, kind: type[D]) -> list[D]:
        agents = self._agents()
        if not agents:
            raise RemoteError(f"no nsinspect agent runs in this cluster; {INSTALL_HINT}")

        refusals: list[AccessRefusedError] = []

        def ask(agent: Any) -> D | None:
            try:
                return self._parse(agent, self._from_agent(agent, path), kind)
            except RemoteError as exc:
                if isinstance(exc, AccessRefusedError):
                    refusals.append(exc)
                why = exc.why if isinstance(exc, AgentSilentError) else exc.message
                self.unreachable[agent.spec.node_name] = why
                return None

        with ThreadPoolExecutor(max_workers=min(16, len(agents))) as pool:
            answers = [a for a in pool.map(ask, agents) if a is not None]
        if not answers and len(refusals) == len(agents):
            raise refusals[0]  # refused everywhere: an error, not a list of silent nodes
        return answers

    def _scope(self, namespace: str | None, all_namespaces: bool) -> str | None:
        """kubectl's habit: -A means every namespace; no -n, the context's namespace."""
        return None if all_namespaces else (namespace or self.default_namespace())

    def pod_list(self, namespace: str | None, all_namespaces: bool) -> PodList:
        scope = self._scope(namespace, all_namespaces)
        query = f"?namespace={scope}" if scope is not None else ""
        lists = self._from_every_agent(f"api/v1/pods{query}", PodList)
        items = [item for listing in lists for item in listing.items]
        return PodList(
            node="",
            items=sorted(items, key=lambda i: (i.pod.namespace, i.pod.name)),
            unreachable=dict(sorted(self.unreachable.items())),
            errors=_merged_errors(lists),
        )

    def finding_list(self, namespace: str | None, all_namespaces: bool) -> FindingList:
        scope = self._scope(namespace, all_namespaces)
        query = f"?namespace={scope}" if scope is not None else ""
        lists = self._from_every_agent(f"api/v1/findings{query}", FindingList)
        return FindingList(
            node="",
            items=[
                msgspec.structs.replace(item, node=listing.node)
                for listing in lists
                for item in listing.items
            ],
            unreachable=dict(sorted(self.unreachable.items())),
            errors=_merged_errors(lists),
        )


def _merged_errors(lists: Sequence[PodList] | Sequence[FindingList]) -> list[ScanErrorReport]:
    """Each agent's `errors`, marked with its node."""
    return [
        msgspec.structs.replace(error, node=listing.node)
        for listing in lists
        for error in value_or(listing.errors, [])
    ]


def _is_status(document: Any) -> bool:
    return isinstance(document, dict) and document.get("kind") == "Status"


def warn_unreachable(document: PodList | FindingList) -> None:
    unreachable = value_or(document.unreachable, {})
    warnings = [
        f"warning: the agent on node {node} did not answer: {why}"
        for node, why in unreachable.items()
    ]
    if warnings:
        echo_lines(warnings, err=True)
