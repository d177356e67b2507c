"""Label selectors as the API server applies them to a list (`labelSelector`), for the
stand-ins: written here from the API's documented syntax, not with the CLI's parser, so that a
test of `-l` compares the CLI against an independent reading. Only for tests."""

from __future__ import annotations

import re

# One requirement of a label selector, as the API server reads it: `k`, `!k`, `k=v`, `k==v`,
# `k!=v`, `k in (a,b)`, `k notin (a,b)`.
REQUIREMENT = re.compile(
    r"^\s*(?:(?P<absent>!)\s*(?P<bare>[^\s!=(),]+)|(?P<key>[^\s!=(),]+)\s*"
    r"(?:(?P<op>==|!=|=)\s*(?P<value>[^\s,()]*)|\s(?P<set_op>in|notin)\s*\((?P<values>[^)]*)\))?)\s*$"
)


def _requirements(selector: str) -> list[str]:
    """The selector's requirements: split at the commas outside parentheses."""
    found, depth, start = [], 0, 0
    for at, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            found.append(selector[start:at])
            start = at + 1
    return [*found, selector[start:]] if selector.strip() else []


def _selects(labels: dict[str, str], requirement: str) -> bool:
    found = REQUIREMENT.match(requirement)
    if found is None:
        raise ValueError(f"unable to parse requirement: {requirement!r}")
    if found.group("absent"):
        return found.group("bare") not in labels
    key = found.group("key")
    if found.group("op"):
        equal = labels.get(key) == found.group("value")
        return equal if found.group("op") != "!=" else not equal
    if found.group("set_op"):
        values = {v.strip() for v in found.group("values").split(",")}
        inside = key in labels and labels[key] in values
        return inside if found.group("set_op") == "in" else not inside
    return key in labels


def selects(labels: dict[str, str], selector: str) -> bool:
    """Whether a pod with `labels` is in a list with this labelSelector; a requirement the
    API server could not parse is a ValueError (its 400)."""
    return all(_selects(labels, requirement) for requirement in _requirements(selector))
