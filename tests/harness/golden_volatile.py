"""What changes from one run on real pods to the next, replaced by stable placeholders.

A real pod has new pids, inodes, ids, addresses, a new MAC and veth every time; what must not
change is the shape of the output around them: keys and their order, wording, verdicts, and
which values are equal (the sandbox's net inode and each container's are one `<NS1>`). So a JSON
document is walked and the values of the keys known to vary are replaced by placeholders numbered
by first appearance; a table is then rewritten with the very same values, as exact tokens, and
its runs of spaces collapsed, so column widths do not matter either.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

# Keys whose values vary from run to run, by the kind of placeholder they get.
PID_KEYS = frozenset({"pid", "ppid", "pids", "read_from_pid", "holder_pid"})
ID_KEYS = {"id": "ID", "sandbox_id": "ID", "uid": "UID"}
ADDRESS_KEYS = frozenset({"addresses", "address", "destination", "gateway"})
# Ids and uids inside strings (cgroup paths, messages), where no key says what they are.
HEX_ID = re.compile(r"[0-9a-f]{64}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
IFINDEX = re.compile(r"\(ifindex (\d+)\)")
COLUMN_GAP = re.compile(r" {2,}")
# Kinds whose values are looked for in text; a start time or a socket inode is never printed,
# and an ifindex is a small number, found only in its own words: `(ifindex 36)`.
TEXT_KINDS = frozenset({"NS", "PID", "ID", "UID", "MAC", "VETH", "BRIDGE", "IP"})


def is_volatile_address(text: object) -> bool:
    """An address or network a pod was given (not loopback, unspecified, link-local route)."""
    try:
        interface = ipaddress.ip_interface(str(text))
    except ValueError:
        return False  # "default", or not an address at all
    address = interface.ip
    if address.is_loopback or address.is_unspecified or address.is_multicast:
        return False
    return not (address.is_link_local and address == interface.network.network_address)


def kind_of(path: tuple[str, ...], key: str, value: Any) -> str | None:
    """The placeholder kind for `key: value` under `path`, or None for a value that is stable."""
    parent = path[-1] if path else ""
    each = value if isinstance(value, list) else [value]
    if not each or any(isinstance(v, dict | list | bool) or v is None for v in each):
        return None  # a section, not a value; or a flag, or nothing
    if key == "inode" and "listening" in path:
        return "SOCKET"
    number = all(isinstance(v, int) for v in each)
    if number and (parent == "namespaces" or key.endswith("inode")):
        return "NS"
    if number and key in PID_KEYS and parent != "host":
        return "PID"  # the host reference's pid (1 or 2) is the same on every run
    if number and key == "start_time":
        return "START"
    if number:
        return "IFINDEX" if parent == "peer" and key == "index" else None
    # Strings from here: `"pid": "CONTAINER"` in `requested` is a mode, not a process.
    if key in ID_KEYS and value:
        return ID_KEYS[key]
    if key == "mac" and value != "00:00:00:00:00:00":
        return "MAC"
    if parent == "peer" and key == "name":
        return "VETH"
    if parent == "master" and key == "name":
        return "BRIDGE"
    if key in ADDRESS_KEYS:
        return "IP"
    return None


class Placeholders:
    """Volatile value -> `<KINDn>`, numbered by first appearance, shared by every output of one
    scenario: the JSON registers the values, the tables reuse them."""

    def __init__(self, paths: Mapping[str, str]) -> None:
        self.paths = dict(paths)  # directories of this run -> a token naming them
        self.by_kind: dict[tuple[str, str], str] = {}
        self.tokens: dict[str, str] = {}  # what text replacement looks for
        self._counts: Counter[str] = Counter()

    def add(self, kind: str, value: object) -> None:
        text = str(value)
        if (kind, text) in self.by_kind or (kind == "IP" and not is_volatile_address(text)):
            return
        self._counts[kind] += 1
        placeholder = f"<{kind}{self._counts[kind]}>"
        self.by_kind[kind, text] = placeholder
        if kind in TEXT_KINDS and len(text) >= 3:  # 1, 2, 36: too short to find as a token
            self.tokens.setdefault(text, placeholder)
            if kind == "ID":
                self.tokens.setdefault(text[:12], placeholder)  # as tables print an id

    # -- JSON -------------------------------------------------------------------------------

    def document(self, document: Any) -> str:
        """A JSON document, normalised and printed as the CLI prints it."""
        return json.dumps(self.normalise(document), indent=2) + "\n"

    def normalise(self, document: Any) -> Any:
        self._register(document, ())
        return self._replace(document, ())

    def _register(self, node: Any, path: tuple[str, ...]) -> None:
        items = node.items() if isinstance(node, dict) else [("", v) for v in node]
        for key, value in items:
            kind = kind_of(path, key, value) if key else None
            if kind is not None:
                for each in value if isinstance(value, list) else [value]:
                    self.add(kind, each)
            elif isinstance(value, dict | list):
                self._register(value, (*path, key) if key else path)
        if isinstance(node, dict):
            for string in _strings(node):
                for found in [*HEX_ID.findall(string), *UUID.findall(string)]:
                    if found not in self.tokens:  # a uid by its key, or an id seen before
                        self.add("ID" if len(found) == 64 else "UID", found)

    def _replace(self, node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            replaced: dict[str, Any] = {}
            for key, value in node.items():
                if key == "taken_at":
                    replaced[key] = "<TAKEN_AT>"
                elif (kind := kind_of(path, key, value)) is not None:
                    replaced[self.text(key)] = (
                        [self._value(kind, v) for v in value]
                        if isinstance(value, list)
                        else self._value(kind, value)
                    )
                else:
                    replaced[self.text(key)] = self._replace(value, (*path, key))
            return replaced
        if isinstance(node, list):
            return [self._replace(value, path) for value in node]
        return self.text(node) if isinstance(node, str) else node

    def _value(self, kind: str, value: Any) -> Any:
        return self.by_kind.get((kind, str(value)), value)

    # -- text -------------------------------------------------------------------------------

    def text(self, text: str) -> str:
        """Every known volatile value in a string, as an exact token, by its placeholder."""
        for path in sorted(self.paths, key=len, reverse=True):
            text = text.replace(path, self.paths[path])
        text = IFINDEX.sub(
            lambda m: f"(ifindex {self.by_kind.get(('IFINDEX', m.group(1)), m.group(1))})", text
        )
        for value in sorted(self.tokens, key=len, reverse=True):
            # A number or a short id only as a whole token; a uid or an id anywhere, as in
            # kubelet's `pod<uid>` cgroups.
            pattern = re.escape(value)
            if len(value) < 32:
                pattern = rf"(?<![0-9A-Za-z]){pattern}(?![0-9A-Za-z])"
            text = re.sub(pattern, self.tokens[value], text)
        return text

    def table(self, text: str) -> str:
        """A table's text with the placeholders, its column gaps collapsed to ` | `."""
        return "\n".join(COLUMN_GAP.sub(" | ", line) for line in self.text(text).split("\n"))


def _strings(node: dict[str, Any]) -> Iterable[str]:
    for key, value in node.items():
        yield key
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, str))


def keep_rows(table: str, wanted: Iterable[str]) -> str:
    """The header line and the rows naming one of `wanted` (other pods on this node go)."""
    lines = table.split("\n")
    tokens = list(wanted)
    kept = [lines[0], *(line for line in lines[1:] if any(t in line for t in tokens))]
    return "\n".join(kept) + "\n"
