"""What `pod`, `pods`, `pid` and `ns` do once their options are parsed (cli/main.py declares
them and imports this module only when one runs: it loads the scanner and the report model)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ..agent.report import PodList, PodReport, value_or
from .formats import GRAPHS, LIST_FORMATS, POD_FORMATS, REPORT_FORMATS, checked_output
from .output import warn_unseen
from .pinned import render_pinned
from .render import render_namespace, render_pod, render_pod_list, render_process
from .show import emit, nothing_found, refuse_binary_terminal, sorted_items
from .terminal_text import CommandError

if TYPE_CHECKING:
    from .options import GlobalOptions
    from .remote import RemoteSource
    from .selectors import Selector

T = TypeVar("T")


def pod_argument(name: str) -> str:
    """`NAME`, or kubectl's `pod/NAME` (what `-o name` prints)."""
    for kind in ("pod/", "pods/"):
        if name.startswith(kind):
            return name.removeprefix(kind)
    return name


def remote_namespace(options: GlobalOptions) -> str | None:
    """-n for the API and the agents (whose API takes `-` for no namespace too); -A is all."""
    return None if options.all_namespaces else options.namespace


def empty_sentence(options: GlobalOptions, remote: RemoteSource | None) -> str:
    if remote is None:
        return nothing_found(options.local_namespace(), options.all_namespaces)
    namespace = remote_namespace(options)
    if namespace is None and not options.all_namespaces:
        namespace = remote.default_namespace()
    return nothing_found(namespace, options.all_namespaces)


def run(produce: Callable[[], T], show: Callable[[T], None], watching: bool, output: str) -> None:
    """Show one answer, or with -w every changed answer until interrupted (cli/watch.py)."""
    if not watching:
        show(produce())
        return
    from .watch import same_for, separator_for, watch

    watch(produce, show, same=same_for(output, show), separator=separator_for(output))


def show_pod(options: GlobalOptions, name: str, watching: bool) -> None:
    spec = checked_output(options.output, POD_FORMATS, "pod")
    refuse_binary_terminal(spec)
    name = pod_argument(name)
    sources = options.sources()
    remote = sources.remote(spec.kind)
    # Process facts are in -o wide and the documents only (an agent's reports always have them).
    facts_shown = spec.kind not in ("table", "name", *GRAPHS)

    def produce() -> PodReport:
        if remote is not None:
            return remote.pod_report(name, remote_namespace(options))
        sources.local.refresh()  # -w asks again; the first time there is nothing to forget
        return sources.local.pod_report(name, options.local_namespace(), facts_shown)

    def show(report: PodReport) -> None:
        if spec.kind in GRAPHS:
            from .graph import emit_graph  # subprocess and shutil: only for a drawing

            emit_graph(report, spec.kind)
        else:
            emit(
                report,
                spec,
                table=lambda wide, _: render_pod(report, wide=wide),
                names=lambda: [f"pod/{report.pod.name}"],
            )
        warn_unseen(report.errors)

    run(produce, show, watching, spec.kind)


def show_pods(
    options: GlobalOptions,
    selector: Selector | None,
    sort_by: str | None,
    headers: bool,
    watching: bool,
) -> None:
    spec = checked_output(options.output, LIST_FORMATS, "pods")
    sources = options.sources()
    remote = sources.remote(spec.kind)

    def produce() -> PodList:
        if remote is not None:
            from .remote import warn_unreachable

            scope, text = remote_namespace(options), selector.text if selector else None
            document = remote.pod_list(scope, options.all_namespaces, selector=text)
            warn_unreachable(document)
        else:
            sources.local.refresh()
            document = sources.local.reports.pod_list(options.local_namespace())
            if selector is not None:
                from .selectors import filter_pod_list

                document = filter_pod_list(document, selector)
        return sorted_items(document, sort_by)

    def show(document: PodList) -> None:
        emit(
            document,
            spec,
            table=lambda wide, shown: render_pod_list(document, wide=wide, headers=shown),
            names=lambda: [f"pod/{item.pod.name}" for item in document.items],
            empty=None if document.items else empty_sentence(options, remote),
            headers=headers,
        )
        warn_unseen(value_or(document.errors, []))

    run(produce, show, watching, spec.kind)


def show_process(options: GlobalOptions, pid: int) -> None:
    spec = checked_output(options.output, REPORT_FORMATS, "pid")
    source = options.sources().local
    report = source.reports.process_report(pid)
    if report is None:
        raise CommandError(f"no process {pid} under {source.config.proc_root}")
    emit(report, spec, table=lambda wide, _: render_process(report, wide=wide))
    warn_unseen(report.errors)


def show_pinned(options: GlobalOptions, sort_by: str | None, headers: bool) -> None:
    spec = checked_output(options.output, LIST_FORMATS, "ns")
    pinned = sorted_items(options.sources().local.reports.pinned_list(), sort_by)
    emit(
        pinned,
        spec,
        table=lambda wide, shown: render_pinned(pinned, wide=wide, headers=shown),
        names=lambda: [f"ns/{item.ns_type}:{item.inode}" for item in pinned.items],
        empty=None if pinned.items else "No resources found",
        headers=headers,
    )
    warn_unseen(value_or(pinned.errors, []))


def show_namespace(options: GlobalOptions, ns_type: str, inode: int) -> None:
    spec = checked_output(options.output, REPORT_FORMATS, "ns TYPE:INODE")
    report = options.sources().local.reports.namespace_report(ns_type, inode)
    unseen = value_or(report.errors, [])
    if not report.processes and not report.pins:
        warn_unseen(unseen)  # a process in it may be among what the scan could not see
        raise CommandError(f"no process is in {ns_type}:[{inode}] and nothing pins it on this node")
    emit(report, spec, table=lambda wide, _: render_namespace(report, wide=wide))
    warn_unseen(unseen)
