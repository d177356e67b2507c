"""A document on stdout in the format `-o` asked for, with kubectl's habits around it.

json and yaml print the document (an empty list too); jsonpath prints the template's text;
`name` prints `KIND/NAME` lines; the tables print their rows (`--no-headers`: nothing else). An
empty list prints nothing on stdout in a table or `name` and says `No resources found ...` on
stderr, exit 0, as kubectl does. `--sort-by` orders a list's items before any format.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from ..agent.report import Document
from .formats import BINARY, OutputSpec
from .output import emit_document
from .template import TemplateError, parse_template, render_template, sort_key_expression
from .template import sorted_order as template_order
from .terminal_text import CommandError, echo_lines

D = TypeVar("D", bound=Document)


class TerminalRefusedError(CommandError):
    exit_code = 2


def refuse_binary_terminal(spec: OutputSpec) -> None:
    """Bytes such as a PNG are for a file or a pipe, never for a terminal (exit 2)."""
    if spec.kind in BINARY and sys.stdout.isatty():
        raise TerminalRefusedError(
            f"refusing to write {spec.kind.upper()} to a terminal; redirect it: "
            f"-o {spec.kind} > pod.{spec.kind}"
        )


def sorted_items(document: D, sort_by: str | None) -> D:
    """The list document with its items in `--sort-by` order (kubectl's JSONPath on each)."""
    if not sort_by:
        return document
    import msgspec

    items: Sequence[Any] = getattr(document, "items")  # noqa: B009 (every list document has them)
    try:
        expression = sort_key_expression(sort_by)
        order = template_order([item.to_json() for item in items], expression)
    except TemplateError as exc:
        raise click.BadParameter(str(exc), param_hint="'--sort-by'") from None
    return msgspec.structs.replace(document, items=[items[index] for index in order])


def emit(
    document: Document,
    spec: OutputSpec,
    *,
    table: Callable[[bool, bool], None],
    names: Callable[[], list[str]] | None = None,
    empty: str | None = None,
    headers: bool = True,
) -> None:
    """Print `document` as `spec` says. `table(wide, headers)` draws the table; `names()` gives
    the `KIND/NAME` lines; `empty`, when set, is the list's nothing-found sentence."""
    if emit_document(document, spec.kind):
        return
    if spec.kind == "jsonpath":
        sys.stdout.write(render_template(parse_template(spec.template), document.to_json()))
        sys.stdout.flush()
        return
    if empty is not None:
        echo_lines([empty], err=True)
        return
    if spec.kind == "name":
        assert names is not None  # the commands that take -o name give names
        echo_lines(names())  # escaped there: the names are the node's
        return
    table(spec.kind == "wide", headers)


def nothing_found(namespace: str | None, all_namespaces: bool) -> str:
    """kubectl's sentence for an empty list in a scope; "" and "-" are no Kubernetes
    namespace."""
    if all_namespaces or namespace is None:
        return "No resources found"
    if namespace in ("", "-"):
        return "No resources found without a Kubernetes namespace."
    return f"No resources found in {namespace} namespace."
