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

import os
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import click
import msgspec

from ..agent.report import (
    Document,
    FindingList,
    PodList,
    PodReport,
    value_or,
)
from . import kube_user
from .agent_answers import agent_document, merged_errors, parsed
from .kube_client import default_namespace, load_configuration
from .kubeconfig import find_kubeconfig, in_cluster_account
from .remote_errors import (
    AccessRefusedError,
    AgentSilentError,
    ApiError,
    RemoteError,
    api_failure,
    status_failure,
)
from .remote_selection import Selection
from .terminal_text import echo_lines

# The agent's DaemonSet sets it in the scanner container (the node's /proc, mounted).
NODE_PROC_ENV = "NSINSPECT_PROC_ROOT"
AGENT_LABELS = "app.kubernetes.io/name=nsinspect,app.kubernetes.io/component=agent"
# A real kustomization of this repository (tests/unit/test_install_hints.py checks it).
INSTALL_HINT = (
    "install it with: kubectl apply -k deploy/base (in a checkout of nsinspect; see README, "
    "'Install on a cluster')"
)
T = TypeVar("T")
D = TypeVar("D", bound=Document)


class RemoteConfig(msgspec.Struct, frozen=True):
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
    """A kubeconfig, or a pod's service account with a token: then reports come from the
    agents. Not in the agent's own scanner, though, whose service account only names pods:
    there the node's /proc is mounted (NODE_PROC_ENV) and `nsinspect pods` scans that node."""
    if kubeconfig_present(kubeconfig):
        return True
    return in_cluster_account() is not None and not os.environ.get(NODE_PROC_ENV)


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
            from kubernetes import client

            configuration = load_configuration(self.config.kubeconfig, self.config.context)
            self._core = client.CoreV1Api(client.ApiClient(configuration))
        return self._core

    def default_namespace(self) -> str:
        """kubectl's: the context's namespace, in a pod its own, else `default`."""
        return default_namespace(self.config.kubeconfig, self.config.context)

    def _failure(self, exc: BaseException) -> ApiError:
        configuration = self.core.api_client.configuration
        return api_failure(exc, configuration.host, configuration.ssl_ca_cert)

    def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One call of the API; a failure in kubectl's words."""
        try:
            return function(*args, _request_timeout=self.config.timeout, **kwargs)
        except Exception as exc:
            raise self._failure(exc) from exc

    def _agents(self, node: str | None = None) -> list[Any]:
        selector = {"field_selector": f"spec.nodeName={node}"} if node else {}
        listing = self._call(
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
        from . import portforward  # its http.client and ssl: only when an agent is asked

        name, node = agent.metadata.name, agent.spec.node_name
        namespace, port = self.config.agent_namespace, self.config.agent_port
        try:
            answer = portforward.get(self.core, namespace, name, port, f"/{path}",
                                     authorization=self._authorization(),
                                     timeout=self.config.timeout)  # fmt: skip
        except portforward.PortForwardRefusedError as exc:
            raise status_failure(exc.status, exc.body, None) from exc
        except portforward.ApiUnreachableError as exc:
            raise self._failure(exc.__cause__ or exc) from exc
        except portforward.PortSilentError as exc:
            raise AgentSilentError(node, port, str(exc)) from exc
        return agent_document(answer.status, answer.body, name, node, self._certificate_note)

    def _certificate_note(self) -> str:
        configuration = self.core.api_client.configuration
        return kube_user.certificate_note(
            configuration, self.config.kubeconfig, self.config.context
        )

    def pod_report(self, name: str, namespace: str | None) -> PodReport:
        namespace = namespace or self.default_namespace()
        pod = self._call(self.core.read_namespaced_pod, name, namespace)
        node = pod.spec.node_name
        if not node:
            raise RemoteError(f'pod "{namespace}/{name}" is not scheduled on a node yet')
        agents = self._agents(node)
        if not agents:
            raise RemoteError(f"no nsinspect agent runs on node {node}; {INSTALL_HINT}")
        document = self._from_agent(agents[0], f"api/v1/pods/{_part(namespace)}/{_part(name)}")
        return parsed(document, PodReport, agents[0].metadata.name)

    def _from_every_agent(
        self, path: str, kind: type[D], nodes: frozenset[str] | None = None
    ) -> list[D]:
        """Ask every agent (on `nodes` only, when given) and keep the answers; the nodes whose
        agent did not answer go to `unreachable`."""
        agents = self._agents()
        if not agents:
            raise RemoteError(f"no nsinspect agent runs in this cluster; {INSTALL_HINT}")
        if nodes is not None:
            agents = [agent for agent in agents if agent.spec.node_name in nodes]
            served = {agent.spec.node_name for agent in agents}
            for node in sorted(nodes - served):
                self.unreachable[node] = f"no nsinspect agent runs there; {INSTALL_HINT}"
            if not agents:
                return []

        refusals: list[AccessRefusedError] = []

        def ask(agent: Any) -> D | None:
            try:
                return parsed(self._from_agent(agent, path), kind, agent.metadata.name)
            except RemoteError as exc:
                if isinstance(exc, AccessRefusedError):
                    refusals.append(exc)
                why = exc.why if isinstance(exc, AgentSilentError) else exc.message
                self.unreachable[agent.spec.node_name] = why
                return None

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(16, len(agents))) as pool:
            answers = [a for a in pool.map(ask, agents) if a is not None]
        if not answers and len(refusals) == len(agents):
            raise refusals[0]  # refused everywhere: an error, not a list of silent nodes
        return answers

    def _scope(self, namespace: str | None, all_namespaces: bool) -> str | None:
        """kubectl's habit: -A means every namespace; no -n, the context's namespace."""
        return None if all_namespaces else (namespace or self.default_namespace())

    def _selected(self, scope: str | None, selector: str) -> Selection:
        """The pods the API's labelSelector selects in the scope."""
        if scope is None:
            call: Callable[..., Any] = self.core.list_pod_for_all_namespaces
            arguments: tuple[str, ...] = ()
        else:
            call, arguments = self.core.list_namespaced_pod, (scope,)
        response = self._call(call, *arguments, label_selector=selector, _preload_content=False)
        try:
            return Selection.of(response.data)
        finally:
            response.release_conn()

    def _lists(
        self, what: str, kind: type[D], scope: str | None, selector: str | None
    ) -> tuple[list[D], frozenset[str] | None]:
        """Every agent's list of `what` in the scope, and with a selector the keys of the pods
        it selects (the agents' items are then only theirs); agents on nodes without such a
        pod are not asked."""
        query = f"?{urlencode({'namespace': scope})}" if scope is not None else ""
        if selector is None:
            return self._from_every_agent(f"api/v1/{what}{query}", kind), None
        selection = self._selected(scope, selector)
        if not selection.keys:
            return [], selection.keys
        return (
            self._from_every_agent(f"api/v1/{what}{query}", kind, selection.nodes),
            selection.keys,
        )

    def pod_list(
        self, namespace: str | None, all_namespaces: bool, selector: str | None = None
    ) -> PodList:
        """The agents' pods in the scope; with a label selector (its text, as the API takes
        it), only the pods the API server selects by their labels."""
        scope = self._scope(namespace, all_namespaces)
        lists, keys = self._lists("pods", PodList, scope, selector)
        items = [
            item
            for listing in lists
            for item in listing.items
            if keys is None or item.pod.key in keys
        ]
        return PodList(
            node="",
            items=sorted(items, key=lambda i: (i.pod.namespace, i.pod.name)),
            unreachable=dict(sorted(self.unreachable.items())),
            errors=merged_errors(lists),
        )

    def finding_list(
        self, namespace: str | None, all_namespaces: bool, selector: str | None = None
    ) -> FindingList:
        """The agents' findings in the scope; with a label selector, only those about the
        pods the API server selects."""
        scope = self._scope(namespace, all_namespaces)
        lists, keys = self._lists("findings", FindingList, scope, selector)
        return FindingList(
            node="",
            items=[
                msgspec.structs.replace(item, node=listing.node)
                for listing in lists
                for item in listing.items
                if keys is None or item.pod in keys
            ],
            unreachable=dict(sorted(self.unreachable.items())),
            errors=merged_errors(lists),
        )


def _part(text: str) -> str:
    """One segment of an agent's path, whatever the name holds."""
    return quote(text, safe="")


def warn_unreachable(document: PodList | FindingList) -> None:
    unreachable = value_or(document.unreachable, {})
    warnings = [
        f"warning: the agent on node {node} did not answer: {why}"
        for node, why in unreachable.items()
    ]
    if warnings:
        echo_lines(warnings, err=True)
