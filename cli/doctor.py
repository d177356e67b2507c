"""`nsinspect doctor`: the findings on this node, and an exit code a script can use.

| exit | meaning                                                                             |
| 0    | everything was checked; no finding is a warning or worse                            |
| 1    | a finding is a warning or worse (whether or not everything could be checked)        |
| 2    | usage error                                                                         |
| 3    | something could not be checked (unreadable processes, pins, runtime state, agents   |
|      | that did not answer) and nothing checked is a warning or worse                      |

Found problems win over incomplete: a finding is concluded only from what was read, so it is
real whatever else went unseen, and it is what a script must act on first; that the check was
also incomplete is said on stderr and in the document's `errors` and `unreachable`.
"""

from __future__ import annotations

import sys

import click
import msgspec

from ..agent.report import FindingList, Severity, value_or
from .output import emit_document, warn_unseen
from .remote import warn_unreachable
from .render import render_findings
from .sources import Sources

FAILING = (Severity.WARNING, Severity.CRITICAL)
EXIT_CLEAN, EXIT_PROBLEMS, EXIT_INCOMPLETE = 0, 1, 3


def exit_code(document: FindingList) -> int:
    """What `doctor` exits with for this document (see the module's table)."""
    if any(item.severity in FAILING for item in document.items):
        return EXIT_PROBLEMS
    unseen = value_or(document.errors, [])
    unreachable = value_or(document.unreachable, {})
    if unseen or unreachable:
        return EXIT_INCOMPLETE
    return EXIT_CLEAN


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
    """Check every pod on this node (remote: in the namespace, or -A in the cluster).

    \b
    Exit codes:
      0  everything was checked; no finding is a warning or worse
      1  a finding is a warning or worse (even if not everything could be checked)
      2  usage error
      3  not everything could be checked (unreadable processes, pins or runtime state;
         agents that did not answer), and no finding is a warning or worse
    What could not be checked is said on stderr and in -o json's `errors`."""
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
    warn_unseen(value_or(document.errors, []))
    sys.exit(exit_code(document))
