"""The options of the commands that list things, as kubectl's: `-l/--selector`, `--sort-by`,
`--no-headers`; and `-w/--watch` for `pod` and `pods`. Light: click only at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from .selectors import Selector

F = TypeVar("F", bound=Callable[..., Any])


def _selector(ctx: click.Context, param: click.Parameter, value: str | None) -> Selector | None:
    if value is None:  # no -l: nothing to parse, nor its parser to import
        return None
    from .selectors import selector_option_value  # parsed at once: a bad one is a usage error

    return selector_option_value(ctx, param, value)


def list_options(*, selector: bool) -> Callable[[F], F]:
    """`--no-headers`, `--sort-by` and (when `selector`) `-l/--selector`."""

    def decorate(func: F) -> F:
        func = click.option(
            "--no-headers",
            is_flag=True,
            help="Tables (-o table, -o wide): print the rows alone, no header line, no notes "
            "after them.",
        )(func)
        func = click.option(
            "--sort-by",
            metavar="JSONPATH",
            help="Sort the items by a JSONPath expression evaluated on each, as kubectl's "
            "(pods --sort-by=.pod.name, doctor --sort-by=.code); in every output format.",
        )(func)
        if selector:
            func = click.option(
                "-l",
                "--selector",
                metavar="SELECTOR",
                callback=_selector,
                help="Only pods whose labels match, in kubectl's syntax (-l app=web, "
                "-l 'tier in (db,cache)', -l '!canary'; commas AND them). Locally the labels "
                "the runtime holds (CRI sandboxes, podman pods); remotely the API's.",
            )(func)
        return func

    return decorate


def watch_option(func: F) -> F:
    return click.option(
        "-w",
        "--watch",
        "watching",
        is_flag=True,
        help="After the first answer, print it again whenever it changes (the node is asked "
        "every 2 seconds), until Ctrl-C.",
    )(func)
