"""Label selectors (`-l/--selector`) in Kubernetes' syntax (cli/selector_syntax.py), matched
against pods' labels. Locally a selector filters the pods by the labels their runtime holds;
remotely its canonical `text` is the API's `labelSelector`.

`!=` and `notin` hold for a pod without the key, as in Kubernetes: `-l '!app'` or
`-l 'app!=web'` select pods without labels too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

import click

from .selector_syntax import (
    Operator,
    Requirement,
    Selector,
    SelectorSyntaxError,
    parse_requirements,
)

if TYPE_CHECKING:
    from ..agent.report import FindingList, FindingReport, PodList, PodReport

PARAM_HINT = "'-l' / '--selector'"

Labelled = TypeVar("Labelled", bound="PodReport")


def parse_selector(text: str) -> Selector:
    """The selector `text` says; click.BadParameter, in apimachinery's words, when it is not
    one."""
    try:
        requirements = parse_requirements(text)
    except SelectorSyntaxError as exc:
        raise click.BadParameter(
            f"unable to parse requirement: {exc}", param_hint=PARAM_HINT
        ) from None
    return Selector(tuple(sorted(requirements, key=lambda r: r.key)))


def selector_option_value(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> Selector | None:
    """A click callback: `-l TEXT` as a Selector (None when not given)."""
    return None if value is None else parse_selector(value)


def pod_labels(pod: PodReport) -> Mapping[str, str]:
    """A pod's labels; a pod whose runtime holds none has the empty set."""
    labels = pod.pod.labels
    return labels if isinstance(labels, dict) else {}


def filter_pods(items: Iterable[Labelled], selector: Selector) -> list[Labelled]:
    """The pods whose labels the selector matches, in their order."""
    return [item for item in items if selector.matches(pod_labels(item))]


def filter_pod_list(document: PodList, selector: Selector) -> PodList:
    import msgspec

    return msgspec.structs.replace(document, items=filter_pods(document.items, selector))


def filter_findings(
    document: FindingList, pods: Sequence[PodReport], selector: Selector
) -> FindingList:
    """The findings about the pods the selector matches among `pods` (those of the same scan);
    findings about no pod (orphan namespaces) have no labels and are left out."""
    import msgspec

    selected = {item.pod.key for item in filter_pods(pods, selector)}
    kept: list[FindingReport] = [item for item in document.items if item.pod in selected]
    return msgspec.structs.replace(document, items=kept)


__all__ = [
    "Operator",
    "Requirement",
    "Selector",
    "filter_findings",
    "filter_pod_list",
    "filter_pods",
    "parse_selector",
    "pod_labels",
    "selector_option_value",
]
