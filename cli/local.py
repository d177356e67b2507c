"""Reports from a scan of this node's /proc: the CLI's local mode."""

from __future__ import annotations

import atexit
import gc
from typing import TYPE_CHECKING, Any

import click
import msgspec

from .kubeconfig import find_kubeconfig, in_cluster_account
from .terminal_text import echo_lines

if TYPE_CHECKING:
    from ..agent.daemon.kube_intent import NodeIntents
    from ..agent.report import PodReport
    from ..agent.scanner import NetlinkHelper, NodeReports, ScanConfig, SnapshotBuilder
    from ..agent.scanner.targeted import TargetedScan

# Local mode answers at once; the API server only adds names, so it gets a few seconds at most.
NAMES_TIMEOUT_SECONDS = 5.0


class LocalSource:
    """Scans once, on first use, and answers every question from that snapshot; one pod's
    report reads only what that pod needs when it can (agent.scanner.targeted).

    The scanner's modules are imported on first use: `--help` and remote mode never need them.
    """

    where = "local"

    def __init__(self, config: ScanConfig) -> None:
        self.config = config
        # At exit Python's collector walks every object left (~10 ms after a scan); the OS
        # reclaims them all the same. Frozen, they are not walked.
        atexit.register(gc.freeze)
        # Where names come from for pods no runtime could name (set by `Sources`).
        self.kubernetes: KubernetesNames | None = None
        self._reports: NodeReports | None = None
        self._builder: SnapshotBuilder | None = None
        self._targeted: TargetedScan | None = None
        # The node's pods from the API server, by uid; replaced, never updated in place: the
        # builder's cache keeps the input it last paired. Asked again only when the pods that
        # need names change.
        self._intents: NodeIntents = {}
        self._unnamed: frozenset[str] | None = None
        self._helper_started = False
        self._helper: NetlinkHelper | None = None

    @property
    def reports(self) -> NodeReports:
        if self._reports is None:
            self._reports = self._scan()
        return self._reports

    def refresh(self) -> None:
        """Forget the snapshot: the next question scans the node again (`-w`). The builder and
        its caches stay, so the next scan reads again only what changed."""
        self._reports = None
        gc.unfreeze()  # what the last scan froze is the collector's again

    def pod_report(self, name: str, namespace: str | None, process_facts: bool = True) -> PodReport:
        """The report of the pod called `name` (in `namespace` when given, "" for none); a
        PodNotFoundError or AmbiguousPodError (cli/lookup.py) that says why not. Without
        `process_facts` its containers' processes are left unread (psutil: what only -o wide
        and the documents show)."""
        from .lookup import find_pod
        from .output import warn_unseen

        # What is imported so far lives to the end: no collection need walk it again.
        gc.freeze()
        helper = self.start_netlink_helper()
        self._helper = None  # this report's: closed below
        try:
            if self._reports is None:
                report = self._targeted_report(name, namespace, helper, process_facts)
                if report is not None:
                    return report
            reports = self.reports
            try:
                found = find_pod(reports.pod_names(), name, namespace)
            except click.ClickException:
                warn_unseen(reports.unseen)  # the pod may be among what the scan could not see
                raise
            pod = reports.find(*found)
            assert pod is not None  # found among the same snapshot's pods
            return reports.pod_report(pod, netlink=helper, process_facts=process_facts)
        finally:
            if helper is not None:
                helper.close()

    def start_netlink_helper(self) -> NetlinkHelper | None:
        """For the first pod report only: a child that imports pyroute2 while this process
        loads the report's modules and scans, and then does the report's netlink reads
        (agent.namespace_contents.netlink_helper). Started as soon as `pod` knows it reports
        from this node; later reports (-w) import pyroute2 here once instead of once a look."""
        if not self._helper_started:
            self._helper_started = True
            from ..agent.scanner import NetlinkHelper

            self._helper = NetlinkHelper.start()
        return self._helper

    def _targeted_report(
        self,
        name: str,
        namespace: str | None,
        helper: NetlinkHelper | None = None,
        process_facts: bool = True,
    ) -> PodReport | None:
        """The pod's report from a scan of what it needs, or None where only a full scan can
        tell (then the full scan answers, errors included)."""
        from ..agent.scanner import NodeReports, ProcRootError
        from ..agent.scanner.targeted import TargetedScan

        if self._targeted is None:
            try:
                self._targeted = TargetedScan(self.config)
            except ProcRootError as exc:
                raise click.UsageError(str(exc)) from exc
        snapshot = self._targeted.snapshot(name, namespace, runtimes=not self._names_configured())
        if snapshot is None:
            return None
        named = [
            pod
            for pod in snapshot.pods
            if pod.name == name and (namespace is None or pod.namespace == namespace)
        ]
        if len(named) != 1:
            return None  # the full scan's answer, or its error
        return NodeReports(snapshot).pod_report(
            named[0], netlink=helper, process_facts=process_facts
        )

    def _names_configured(self) -> bool:
        """Whether the API server may be asked for names (a usable kubeconfig, or a service
        account): then the full scan may list the node's pods, which gives every pod its spec,
        so a runtime's pod is reported from the full scan."""
        if self.kubernetes is None:
            return False
        return bool(find_kubeconfig(self.kubernetes.kubeconfig).usable) or (
            in_cluster_account() is not None
        )

    @property
    def builder(self) -> SnapshotBuilder:
        if self._builder is None:
            from ..agent.scanner import ProcRootError, SnapshotBuilder

            try:
                self._builder = SnapshotBuilder(
                    self.config, intents=lambda: self._intents, split_first_scan=True
                )
            except ProcRootError as exc:
                raise click.UsageError(str(exc)) from exc
        return self._builder

    def _scan(self) -> NodeReports:
        """One scan; where it found kubelet pods that no runtime named and a cluster is
        configured, the node's pods are listed and the node scanned again with them."""
        from ..agent.scanner import NodeReports, ProcRootError

        gc.freeze()  # as in pod_report: what is imported so far need not be walked again
        builder = self.builder
        try:
            reports = NodeReports(builder.build())
            if self.kubernetes is not None and self._asks_names(reports):
                intents = self.kubernetes.node_intents(builder.node_name)
                if intents or self._intents:
                    self._intents = intents
                    reports = NodeReports(builder.build())
        except ProcRootError as exc:
            raise click.UsageError(str(exc)) from exc
        # The snapshot lives as long as the answer (or until -w's next look): its tens of
        # thousands of objects, made with the collector paused and without cycles, need no
        # walk by each collection until then (~5 ms of a cold list at 300 pods).
        gc.freeze()
        return reports

    def _asks_names(self, reports: NodeReports) -> bool:
        """Whether to ask the API server for names: pods with a Kubernetes uid have
        placeholders (only then is the client imported), and they are not the pods it was
        last asked about (`-w` asks again when they change, not on every scan)."""
        snapshot = reports.snapshot
        if not any(pod.uid for pod in snapshot.pods):
            return False
        from ..agent.daemon.kube_intent import unnamed_kubelet_pods

        if not unnamed_kubelet_pods(snapshot):
            return False
        unnamed = frozenset(pod.uid for pod in snapshot.pods if pod.uid)
        if unnamed == self._unnamed:
            return False
        self._unnamed = unnamed
        return True


class KubernetesNames(msgspec.Struct, frozen=True):
    """The API server as local mode's source of pod names, through the agent's own listing."""

    kubeconfig: str | None
    context: str | None
    timeout: float = NAMES_TIMEOUT_SECONDS
    # Say so when the kubeconfig is unusable: with --local, nothing else has looked at it.
    warn_unusable: bool = False

    def node_intents(self, node_name: str) -> NodeIntents:
        """The intents of the node's pods by uid; {} with one warning when the API cannot
        be asked or does not answer."""
        from ..agent.daemon.kube_intent import list_node_intents
        from .remote_errors import api_failure

        core = self.core_api()
        if core is None:
            return {}
        try:
            intents, _ = list_node_intents(core, node_name, (self.timeout, self.timeout))
        except ValueError as exc:  # a body that is not JSON
            warn_names(str(exc))
            return {}
        except Exception as exc:  # urllib3, socket, ApiException: in kubectl's words
            configuration = core.api_client.configuration
            warn_names(api_failure(exc, configuration.host, configuration.ssl_ca_cert).message)
            return {}
        return intents

    def core_api(self) -> Any | None:
        """The API client, or None without a usable cluster configuration: a kubeconfig that
        cannot be read or parsed counts as none (cli/kubeconfig.py), as does a configuration
        the official client refuses."""
        search = find_kubeconfig(self.kubeconfig)
        if not search.usable and search.unusable and self.warn_unusable:
            warn_names(f"unusable kubeconfig: {search.reasons()}")
        if not search.usable and in_cluster_account() is None:
            return None
        from kubernetes import client

        from .kube_client import load_configuration
        from .remote_errors import ApiError

        try:
            configuration = load_configuration(self.kubeconfig, self.context)
        except ApiError as exc:  # what kubectl would say of the configuration
            if self.warn_unusable:
                warn_names(exc.message)
            return None
        return client.CoreV1Api(client.ApiClient(configuration))


def warn_names(reason: str) -> None:
    echo_lines(
        [
            f"warning: no names from Kubernetes ({reason}); pods known from their cgroups "
            "alone keep placeholder names"
        ],
        err=True,
    )
