"""Kubernetes' label selector syntax (apimachinery's `labels.Parse`): the requirements a
selector's text holds, parsed and checked as the API server does, with its error wording.

Requirements are joined by commas: `key=value`, `key==value`, `key!=value`, `key in (a,b)`,
`key notin (a,b)`, `key`, `!key`, and `key>N` / `key<N`. A key is a qualified name
(`[prefix/]name`), a value a label value (63 characters at most, possibly empty).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

# Characters that end an identifier in apimachinery's lexer.
_SPECIAL = "!=<>(),"
_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_INTEGER = re.compile(r"-?[0-9]+")
MAX_NAME = 63
MAX_PREFIX = 253


class Operator(StrEnum):
    """apimachinery's selection operators, as its String() writes them."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = ">"
    LESS_THAN = "<"


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()  # sorted, without repeats

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        op = self.operator
        if op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN):
            return present and value in self.values
        if op in (Operator.NOT_EQUALS, Operator.NOT_IN):
            return not present or value not in self.values
        if op is Operator.EXISTS:
            return present
        if op is Operator.DOES_NOT_EXIST:
            return not present
        # > and <: a label that is not an integer never matches, as in apimachinery.
        if not present or _INTEGER.fullmatch(value) is None:
            return False
        bound = int(self.values[0])
        return int(value) > bound if op is Operator.GREATER_THAN else int(value) < bound

    @property
    def text(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op} ({','.join(self.values)})"
        return f"{self.key}{op}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every requirement holds; the empty selector matches everything."""
        return all(requirement.matches(labels) for requirement in self.requirements)

    @property
    def text(self) -> str:
        """The canonical form (requirements by key, set values sorted), as apimachinery's
        String() writes it: what the API's `labelSelector` receives."""
        return ",".join(requirement.text for requirement in self.requirements)


def parse_requirements(text: str) -> list[Requirement]:
    """The requirements `text` holds, in its order; SelectorSyntaxError says why not, in the
    API server's words."""
    return _Parser(_tokens(text)).selector()


class SelectorSyntaxError(Exception):
    """What is wrong with a selector, as apimachinery says it."""


def _unexpected(token: _Token, expected: str) -> SelectorSyntaxError:
    return SelectorSyntaxError(f"found '{_shown(token.text)}', expected: {expected}")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "id", a symbol ("!", "!=", "=", "==", "<", ">", "(", ")", ","), or "end"
    text: str


def _tokens(text: str) -> list[_Token]:
    """apimachinery's lexer: identifiers end at whitespace or a special character; `in` and
    `notin` are identifiers here and keywords where an operator is expected."""
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
        elif char in _SPECIAL:
            symbol = text[position : position + 2]
            if symbol not in ("!=", "=="):
                symbol = char
            tokens.append(_Token(symbol, symbol))
            position += len(symbol)
        else:
            start = position
            while position < len(text) and not (
                text[position].isspace() or text[position] in _SPECIAL
            ):
                position += 1
            tokens.append(_Token("id", text[start:position]))
    tokens.append(_Token("end", ""))
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> _Token:
        return self.tokens[self.position]

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position = min(self.position + 1, len(self.tokens) - 1)
        return token

    def selector(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        if self.peek().kind == "end":
            return requirements
        while True:
            requirements.append(self.requirement())
            token = self.take()
            if token.kind == "end":
                return requirements
            if token.kind != ",":
                raise _unexpected(token, "',' or 'end of string'")
            if self.peek().kind == "end":
                raise SelectorSyntaxError("found '', expected: identifier after ','")

    def requirement(self) -> Requirement:
        token = self.take()
        if token.kind == "!":
            name = self.take()
            if name.kind != "id":
                raise _unexpected(name, "identifier after '!'")
            return Requirement(_checked_key(name.text), Operator.DOES_NOT_EXIST)
        if token.kind != "id":
            raise _unexpected(token, "!, identifier, or 'end of string'")
        key = _checked_key(token.text)
        if self.peek().kind in (",", "end"):
            return Requirement(key, Operator.EXISTS)
        operator = self.operator()
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self.value_set(operator)
        else:
            values = (self.exact_value(),)
        for value in values:
            _check_value(value)
        if operator in (Operator.GREATER_THAN, Operator.LESS_THAN) and not _INTEGER.fullmatch(
            values[0]
        ):
            raise SelectorSyntaxError(
                f"for 'Gt', 'Lt' operators, the value must be an integer: {values[0]!r}"
            )
        return Requirement(key, operator, values)

    def operator(self) -> Operator:
        token = self.take()
        symbols = {"=": Operator.EQUALS, "==": Operator.DOUBLE_EQUALS, "!=": Operator.NOT_EQUALS}
        symbols |= {">": Operator.GREATER_THAN, "<": Operator.LESS_THAN}
        if token.kind in symbols:
            return symbols[token.kind]
        if token.kind == "id" and token.text in ("in", "notin"):
            return Operator(token.text)
        raise _unexpected(token, "'=', '!=', '==', 'in', notin'")

    def exact_value(self) -> str:
        if self.peek().kind in (",", "end"):
            return ""  # `key=` selects the empty value
        token = self.take()
        if token.kind != "id":
            raise _unexpected(token, "identifier")
        return token.text

    def value_set(self, operator: Operator) -> tuple[str, ...]:
        token = self.take()
        if token.kind != "(":
            raise SelectorSyntaxError(f"found '{_shown(token.text)}' expected: '('")
        values: set[str] = set()
        expect_value = True
        while True:
            token = self.take()
            if token.kind == ")":
                break
            if token.kind == "id" and expect_value:
                values.add(token.text)
                expect_value = False
            elif token.kind == ",":
                if expect_value:
                    values.add("")  # `(a,,b)` and `(,a)` hold the empty value
                expect_value = True
            else:
                raise _unexpected(token, "',', ')' or identifier")
        if expect_value and values:
            values.add("")  # a trailing comma: `(a,)`
        if not values:
            raise SelectorSyntaxError(f"for '{operator}', values set can't be empty")
        return tuple(sorted(values))


def _checked_key(key: str) -> str:
    """A qualified name: `[prefix/]name`, the prefix a DNS subdomain."""
    prefix, slash, name = key.rpartition("/")
    problems: list[str] = []
    if slash and (
        not prefix
        or len(prefix) > MAX_PREFIX
        or not all(_DNS_LABEL.fullmatch(part) for part in prefix.split("."))
    ):
        problems.append("prefix part must be a lowercase RFC 1123 subdomain")
    if not name or len(name) > MAX_NAME or _NAME.fullmatch(name) is None:
        problems.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            f"and end with an alphanumeric character, at most {MAX_NAME} characters"
        )
    if problems:
        raise SelectorSyntaxError(f"Invalid value: {_quoted(key)}: {'; '.join(problems)}")
    return key


def _check_value(value: str) -> None:
    if value and (len(value) > MAX_NAME or _NAME.fullmatch(value) is None):
        raise SelectorSyntaxError(
            f"Invalid value: {_quoted(value)}: a valid label must be an empty string or consist "
            "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            f"alphanumeric character, at most {MAX_NAME} characters"
        )


def _shown(text: str) -> str:
    """A user's text in an error, with control characters escaped before a terminal sees them."""
    return text.encode("unicode_escape").decode("ascii")


def _quoted(text: str) -> str:
    return '"' + _shown(text).replace('"', '\\"') + '"'
