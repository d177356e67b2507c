"""How the report model goes on the wire and comes back: typed structs <-> JSON values.

Every document type is a msgspec Struct whose fields are the document's keys, in the document's
order. `to_json()` gives plain JSON values (dicts, lists, strings, numbers) for json/yaml to
print; `from_json()` checks a document against the type and says where it is wrong. A key that
a document carries only sometimes is typed `X | UnsetType` and absent while UNSET.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from msgspec import UnsetType

API_VERSION = "nsinspect/v1"

T = TypeVar("T", bound="WireStruct")


class WireError(ValueError):
    """A document that is not what its type says (from an agent of another version, say)."""


class WireStruct(msgspec.Struct, frozen=True, kw_only=True):
    """A part of an `nsinspect/v1` document."""

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = msgspec.to_builtins(self)
        return document

    @classmethod
    def from_json(cls: type[T], document: object) -> T:
        try:
            return msgspec.convert(document, cls)
        except msgspec.ValidationError as exc:
            raise WireError(f"not a valid {cls.__name__}: {exc}") from exc


class Document(WireStruct, frozen=True, kw_only=True):
    """A whole document: `apiVersion` and `kind` first, as Kubernetes writes them."""

    api_version: str = msgspec.field(default=API_VERSION, name="apiVersion")
    kind: str = ""  # each document type's default is its kind

    @classmethod
    def from_json(cls: type[T], document: object) -> T:
        expected = next(f.default for f in msgspec.structs.fields(cls) if f.name == "kind")
        kind = document.get("kind", expected) if isinstance(document, dict) else expected
        if kind != expected:
            raise WireError(f"expected a {expected} document, got {kind!r}")
        return super().from_json(document)


V = TypeVar("V")
D = TypeVar("D")


def value_or(value: V | UnsetType, default: D) -> V | D:
    """A key's value, or `default` where the document does not carry the key."""
    return default if isinstance(value, UnsetType) else value
