"""`nsinspect doctor`: the findings on this node, and an exit code a script can use."""

from __future__ import annotations

import sys

import click

from ..agent.report import Severity
from .output import emit_document
from .remote import warn_unreachable
from .render import render_findings
from .sources import Sources

FAILING = (Severity.WARNING, Severity.CRITICAL)


@click.command()
@click.option("-n", "--namespace", default=None, help="Only findings of pods in this namespace.")
@click.option("-A", "--all-namespaces", is_flag=True, help="All namespaces (the default).")
@click.option(
    "-o",
    "--output",
    type=click.Choice(("table", "json", "yaml")),
    default="table",
    show_default=True,
)
@click.pass_obj
def doctor(sources: Sources, namespace: str | None, all_namespaces: bool, output: str) -> None:
    """Check every pod on this node (remote: in the namespace, or -A in the cluster); exit 1 if
    any finding is a warning or worse."""
    if namespace is not None and all_namespaces:
        raise click.UsageError("-n and -A exclude each other")
    remote = sources.remote(output)
    if remote is not None:
        document = remote.finding_list(namespace, all_namespaces)
        warn_unreachable(document)
    else:
        document = sources.local.reports.finding_list(namespace)
    if not emit_document(document, output):
        render_findings(document)
    if any(item.severity in FAILING for item in document.items):
        sys.exit(1)
