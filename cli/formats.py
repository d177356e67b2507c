"""`-o/--output` as kubectl takes it: `-o json`, `-o=json`, `-ojson`, `--output=json`,
`-o jsonpath=TEMPLATE`, `-o jsonpath-file=FILE`, `-o name`; and which command takes which.

Light on purpose (click and the standard library): the option is parsed before any command runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

TABLES = ("table", "wide")
DOCUMENTS = ("json", "yaml")
GRAPHS = ("dot", "svg", "png")
BINARY = ("png",)  # bytes, never for a terminal
# Every command that lists things takes the same set; a single pod can also be drawn.
LIST_FORMATS = (*TABLES, *DOCUMENTS, "name", "jsonpath")
POD_FORMATS = (*LIST_FORMATS, *GRAPHS)
# A process or one namespace is no resource with a name to print.
REPORT_FORMATS = (*TABLES, *DOCUMENTS, "jsonpath")
ALL_FORMATS = POD_FORMATS


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """A parsed `-o`: its kind (table, wide, json, yaml, name, jsonpath, dot, svg, png) and, for
    jsonpath, the template."""

    kind: str = "table"
    template: str = ""

    @property
    def text(self) -> str:
        return f"jsonpath={self.template}" if self.kind == "jsonpath" else self.kind

    @property
    def is_table(self) -> bool:
        return self.kind in TABLES


class OutputFormat(click.ParamType["OutputSpec"]):
    """kubectl's -o values. A leading `=` is dropped: `-o=json` reaches click as `=json`."""

    name = "format"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "FORMAT"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> OutputSpec:
        if isinstance(value, OutputSpec):
            return value
        text = str(value).removeprefix("=")
        kind, sep, argument = text.partition("=")
        if kind == "jsonpath":
            if not sep or not argument:
                self.fail(
                    "jsonpath needs a template: -o jsonpath='{.items[*].pod.name}'", param, ctx
                )
            return self._checked_template(argument, param, ctx)
        if kind == "jsonpath-file":
            if not argument:
                self.fail("jsonpath-file needs a file: -o jsonpath-file=FILE", param, ctx)
            try:
                with open(argument, encoding="utf-8") as file:
                    template = file.read()
            except (OSError, UnicodeDecodeError) as exc:
                self.fail(f"cannot read the jsonpath template {argument}: {exc}", param, ctx)
            return self._checked_template(template, param, ctx)
        if sep or kind not in ALL_FORMATS:
            self.fail(
                f"{text!r} is not an output format; use one of "
                + ", ".join(kind for kind in ALL_FORMATS if kind != "jsonpath")
                + ", jsonpath=TEMPLATE or jsonpath-file=FILE",
                param,
                ctx,
            )
        return OutputSpec(kind)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        """The format names for `-o <TAB>` (jsonpath with its `=`)."""
        from click.shell_completion import CompletionItem

        words = [k if k != "jsonpath" else "jsonpath=" for k in ALL_FORMATS] + ["jsonpath-file="]
        return [CompletionItem(word) for word in words if word.startswith(incomplete)]

    def _checked_template(
        self, template: str, param: click.Parameter | None, ctx: click.Context | None
    ) -> OutputSpec:
        from .template import TemplateError, parse_template  # jsonpath-ng, only for jsonpath

        try:
            parse_template(template)
        except TemplateError as exc:
            self.fail(str(exc), param, ctx)
        return OutputSpec("jsonpath", template)


def checked_output(spec: OutputSpec, allowed: tuple[str, ...], command: str) -> OutputSpec:
    """`spec` when `command` takes it; a usage error (exit 2) naming what it takes otherwise."""
    if spec.kind not in allowed:
        raise click.UsageError(
            f"`{command}` does not take -o {spec.kind}; it takes "
            + ", ".join("jsonpath=TEMPLATE" if k == "jsonpath" else k for k in allowed)
        )
    return spec
