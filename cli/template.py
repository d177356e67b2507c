"""kubectl's JSONPath templates (`-o jsonpath=…`) and `--sort-by`, over a document's JSON.

A template is text with actions in braces, as kubectl writes them: `{.items[*].pod.name}` (an
expression; several results are joined by a space), `{range .items[*]}…{end}` (the body once per
result, its expressions relative to it: `{.pod.name}` or `{@.pod.name}`), `{"\\n"}` (a string,
with \\n, \\t, \\\\ and \\" escapes), and literal text around them. `{$}` is the whole document,
`{..name}` searches at any depth. The expressions themselves are evaluated with jsonpath-ng (its
extended grammar, for filters such as `[?(@.severity=="critical")]`); kubectl's escaped dots in
a key (`{.labels.app\\.kubernetes\\.io/name}`) are quoted for it. A missing key prints nothing,
as kubectl's default `--allow-missing-template-keys=true` does.

Values print as kubectl prints them (strings bare, booleans lowercase, maps and lists as JSON),
with the node's control characters escaped like every other line this CLI prints
(terminal_text): a name is the node's, and a terminal may be reading.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from .terminal_text import escape_controls

_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
_ESCAPED_DOT_SEGMENT = re.compile(r"(?:[^.\\]|\\.)+")


class TemplateError(ValueError):
    """A template kubectl would refuse too: unbalanced braces, a bad expression, a stray end."""


class Expression(msgspec.Struct, frozen=True):
    text: str
    compiled: Any  # a jsonpath_ng expression
    relative: bool  # to the current range item (`.x`, `@.x`) or to the whole document (`$.x`)

    def find(self, current: Any, root: Any) -> list[Any]:
        return [match.value for match in self.compiled.find(current if self.relative else root)]


class Range(msgspec.Struct):
    expression: Expression
    body: list[Node] = msgspec.field(default_factory=list)


Node = str | Expression | Range


def compile_expression(text: str) -> Expression:
    """One kubectl JSONPath expression (without its braces) for jsonpath-ng."""
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.ext.parser import parse

    text = text.strip()
    relative = not text.startswith("$")
    path = text.removeprefix("$").removeprefix("@")
    if "\\." in path:
        path = _quote_escaped_keys(path)
    if path in ("", "."):
        path = "$"
    elif path.startswith((".", "[")):
        path = "$" + path
    else:
        path = "$." + path
    try:
        return Expression(text, parse(path), relative)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
        raise TemplateError(f"bad JSONPath expression {{{text}}}: {exc}") from exc


def _quote_escaped_keys(path: str) -> str:
    """`.labels.app\\.kubernetes\\.io/name` -> `.labels.'app.kubernetes.io/name'`."""
    quoted = []
    for segment in _ESCAPED_DOT_SEGMENT.findall(path):
        escaped = "\\." in segment
        quoted.append("'" + segment.replace("\\.", ".") + "'" if escaped else segment)
    return "." + ".".join(quoted)


def _actions(template: str) -> list[tuple[bool, str]]:
    """(is_action, text) pieces: literal text, and what stood between `{` and its `}`."""
    pieces: list[tuple[bool, str]] = []
    literal, index = [], 0
    while index < len(template):
        char = template[index]
        if char == "}":
            raise TemplateError(f"unmatched }} at offset {index} of the template")
        if char != "{":
            literal.append(char)
            index += 1
            continue
        end, quote = index + 1, ""
        while end < len(template):
            inner = template[end]
            if quote:
                if inner == "\\":
                    end += 1
                elif inner == quote:
                    quote = ""
            elif inner in "\"'":
                quote = inner
            elif inner == "}":
                break
            end += 1
        if end >= len(template):
            raise TemplateError(f"unclosed {{ at offset {index} of the template")
        if literal:
            pieces.append((False, "".join(literal)))
            literal = []
        pieces.append((True, template[index + 1 : end]))
        index = end + 1
    if literal:
        pieces.append((False, "".join(literal)))
    return pieces


def _string_literal(text: str) -> str:
    body, out, index = text[1:-1], [], 0
    while index < len(body):
        if body[index] == "\\" and index + 1 < len(body):
            out.append(_STRING_ESCAPES.get(body[index + 1], body[index + 1]))
            index += 2
        else:
            out.append(body[index])
            index += 1
    return "".join(out)


def parse_template(template: str) -> list[Node]:
    """The template as a tree of literal text, expressions and ranges; TemplateError if bad."""
    top: list[Node] = []
    stack: list[list[Node]] = [top]
    for is_action, text in _actions(template):
        if not is_action:
            stack[-1].append(text)
            continue
        action = text.strip()
        if len(action) >= 2 and action[0] == action[-1] and action[0] in "\"'":
            stack[-1].append(_string_literal(action))
        elif action == "end":
            if len(stack) == 1:
                raise TemplateError("{end} without a {range}")
            stack.pop()
        elif action.startswith("range ") or action.startswith("range\t"):
            opened = Range(compile_expression(action[len("range") :]))
            stack[-1].append(opened)
            stack.append(opened.body)
        elif not action:
            raise TemplateError("an empty {} in the template")
        else:
            stack[-1].append(compile_expression(action))
    if len(stack) > 1:
        raise TemplateError("{range} without its {end}")
    return top


def format_value(value: Any) -> str:
    """A value as kubectl's jsonpath prints it, the node's control characters escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, dict | list):
        return escape_controls(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    return "null" if value is None else str(value)


def _each(values: list[Any]) -> list[Any]:
    """What a range iterates: the results, or the elements of the one list it found."""
    if len(values) == 1 and isinstance(values[0], list):
        return list(values[0])
    return values


def _render(nodes: list[Node], current: Any, root: Any, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, Expression):
            out.append(" ".join(format_value(v) for v in node.find(current, root)))
        else:
            for item in _each(node.expression.find(current, root)):
                _render(node.body, item, root, out)


def render_template(nodes: list[Node], document: Any) -> str:
    """The template's text for `document` (a JSON value)."""
    out: list[str] = []
    _render(nodes, document, document, out)
    return "".join(out)


def sort_key_expression(text: str) -> Expression:
    """`--sort-by`: `.pod.name` or `{.pod.name}`, evaluated on each item of a list."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if not text:
        raise TemplateError("--sort-by needs a JSONPath expression, e.g. .pod.name")
    return compile_expression(text)


def sorted_order(items: list[Any], expression: Expression) -> list[int]:
    """The items' indexes sorted by the expression's first value in each (kubectl's order:
    numbers by value, text by text; an item without the field, or with null, comes first)."""
    keys = []
    for item in items:
        found = expression.find(item, item)
        if not found or found[0] is None:
            keys.append((0, 0.0, ""))
            continue
        value = found[0]
        if isinstance(value, bool | int | float):
            keys.append((1, float(value), ""))
        elif isinstance(value, str):
            keys.append((2, 0.0, value))
        else:
            keys.append((3, 0.0, json.dumps(value, sort_keys=True)))
    if items and all(key[0] == 0 for key in keys):
        raise TemplateError(f"--sort-by {{{expression.text}}}: no item has that field")
    return sorted(range(len(items)), key=keys.__getitem__)
