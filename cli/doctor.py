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
from typing import TYPE_CHECKING

import click

from .formats import LIST_FORMATS
from .options import GLOBAL_EPILOG, command_options, global_options
from .selection import list_options

if TYPE_CHECKING:  # the report model and the scanner load when doctor runs (start-up)
    from ..agent.report import FindingList
    from .options import GlobalOptions
    from .selectors import Selector

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_INCOMPLETE = 0, 1, 3


def exit_code(document: FindingList) -> int:
    """What `doctor` exits with for this document (see the module's table)."""
    from ..agent.report import Severity, value_or

    if any(item.severity in (Severity.WARNING, Severity.CRITICAL) for item in document.items):
        return EXIT_PROBLEMS
    unseen = value_or(document.errors, [])
    unreachable = value_or(document.unreachable, {})
    if unseen or unreachable:
        return EXIT_INCOMPLETE
    return EXIT_CLEAN


@click.command(epilog=GLOBAL_EPILOG)
@list_options(selector=True)
@command_options(LIST_FORMATS)
@click.option(
    "--runtime-less",
    type=click.Choice(("include", "ignore")),
    default="include",
    show_default=True,
    help="Findings about pods no runtime knows (grouped by their namespaces alone): ignore "
    "leaves them out of the output and of the exit code.",
)
@click.pass_context
def doctor(
    ctx: click.Context,
    selector: Selector | None,
    sort_by: str | None,
    no_headers: bool,
    runtime_less: str,
) -> None:
    """Check every pod on this node (remote: in the context's namespace, -n NS, or -A the
    cluster's).

    \b
    Exit codes:
      0  everything was checked; no finding is a warning or worse
      1  a finding is a warning or worse (even if not everything could be checked)
      2  usage error
      3  not everything could be checked (unreadable processes, pins or runtime state;
         agents that did not answer), and no finding is a warning or worse
    What could not be checked is said on stderr and in -o json's `errors`.
    -o name prints the pods with findings (pod/NAME, once each)."""
    document = check(global_options(ctx), selector, sort_by, runtime_less, not no_headers)
    sys.exit(exit_code(document))


def check(
    options: GlobalOptions,
    selector: Selector | None,
    sort_by: str | None,
    runtime_less: str,
    headers: bool,
) -> FindingList:
    """Print the findings as -o says; the document, for the exit code."""
    import msgspec

    from ..agent.report import value_or
    from .formats import checked_output
    from .output import warn_unseen
    from .render import no_findings_text, render_findings
    from .show import emit, sorted_items
    from .views import remote_namespace

    spec = checked_output(options.output, LIST_FORMATS, "doctor")
    sources = options.sources()
    remote = sources.remote(spec.kind)
    if remote is not None:
        from .remote import warn_unreachable

        scope, text = remote_namespace(options), selector.text if selector else None
        document = remote.finding_list(scope, options.all_namespaces, selector=text)
        warn_unreachable(document)
    else:
        reports = sources.local.reports
        namespace = options.local_namespace()
        document = reports.finding_list(namespace)
        if selector is not None:
            from .selectors import filter_findings

            document = filter_findings(document, reports.pod_list(namespace).items, selector)
    if runtime_less == "ignore":
        kept = [item for item in document.items if item.runtime_less is not True]
        document = msgspec.structs.replace(document, items=kept)
    document = sorted_items(document, sort_by)
    emit(
        document,
        spec,
        table=lambda wide, shown: render_findings(document, wide=wide, headers=shown),
        names=lambda: finding_pod_names(document),
        empty=None if document.items else no_findings_text(document),
        headers=headers,
    )
    warn_unseen(value_or(document.errors, []))
    return document


def finding_pod_names(document: FindingList) -> list[str]:
    """`-o name`: the pods with findings, `pod/NAME` once each, in the findings' order; a
    finding about no pod (an orphan namespace) names none."""
    names: dict[str, None] = {}
    for item in document.items:
        if item.pod:
            names[f"pod/{item.pod.rpartition('/')[2]}"] = None
    return list(names)
