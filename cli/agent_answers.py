"""What an agent answered through the port-forward, as the remote CLI reads it: the typed
document, or the error its Status says (the agent's own words: a 401 or 403 names what it
refused, the same on every node), and the lists' errors marked with their nodes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec

from ..agent.report import Document, FindingList, PodList, ScanErrorReport, WireError, value_or
from .remote_errors import AccessRefusedError, RemoteError

D = TypeVar("D", bound=Document)


def agent_document(
    status: int, body: bytes, agent: str, node: str, certificate_note: Callable[[], str]
) -> Any:
    """The JSON document of an agent's answer; a RemoteError when it is a Status (an
    AccessRefusedError for 401 and 403) or not JSON. `certificate_note` says why a 401 may
    be the user's client certificate."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise RemoteError(f"agent {agent} sent something that is not JSON") from exc
    if not isinstance(document, dict) or document.get("kind") != "Status":
        return document
    message = str(document.get("message") or f"error {status}")
    if status == 403:
        raise AccessRefusedError(message)
    if status == 401:
        raise AccessRefusedError(message + certificate_note())
    raise RemoteError(f"agent on node {node}: {message}")


def parsed(document: Any, kind: type[D], agent: str) -> D:
    """The agent's document as the report type it must be."""
    try:
        return kind.from_json(document)
    except WireError as exc:
        raise RemoteError(f"agent {agent} sent a malformed answer: {exc}") from exc


def merged_errors(lists: Sequence[PodList] | Sequence[FindingList]) -> list[ScanErrorReport]:
    """Each agent's `errors`, marked with its node."""
    return [
        msgspec.structs.replace(error, node=listing.node)
        for listing in lists
        for error in value_or(listing.errors, [])
    ]
