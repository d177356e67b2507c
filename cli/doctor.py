"""`nsinspect doctor`: the findings on this node, and an exit code a script can use."""

from __future__ import annotations

import sys

import click
import msgspec

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
@click.option(
    "--runtime-less",
    type=click.Choice(("include", "ignore")),
    default="include",
    show_default=True,
    help="Findings about pods no runtime knows (grouped by their namespaces alone): ignore "
    "leaves them out of the output and of the exit code.",
)
@click.pass_obj
def doctor(
    sources: Sources, namespace: str | None, all_namespaces: bool, output: str, runtime_less: str
) -> None:
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
    if runtime_less == "ignore":
        kept = [item for item in document.items if item.runtime_less is not True]
        document = msgspec.structs.replace(document, items=kept)
    if not emit_document(document, output):
        render_findings(document)
    if any(item.severity in FAILING for item in document.items):
        sys.exit(1)
