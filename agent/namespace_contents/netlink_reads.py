"""The netlink reads of a pod's network details: its namespace and the node's, each described
and asked for the id it gives the other (interfaces.py does the reading).

They are asked for together (`NetlinkRequest`) and answered together (`NetlinkAnswers`), each
read's failure kept as its reason, so that the same code answers in this process (`answer`) or
in a helper forked before the scan (netlink_helper.py), whose import of pyroute2 (~100 ms, more
than the rest of `nsinspect pod`'s imports) then overlaps the scan. This module imports no
pyroute2 itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

import msgspec

from ..model import errno_name
from .details import NetnsView


def reason_of(exc: BaseException) -> str:
    """An exception as a details section says it: the errno's name, else its type and text."""
    if isinstance(exc, OSError) and exc.errno:
        return errno_name(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class NetlinkRequest(msgspec.Struct, frozen=True):
    """The two namespaces' paths (each is asked for the id it gives the other), whether each is
    read, and whether each is the namespace this process is in (read without entering)."""

    pod_path: str
    pod_read: bool
    pod_own: bool
    node_path: str
    node_read: bool
    node_own: bool


class NetlinkAnswers(msgspec.Struct, frozen=True):
    """Each read's result, or "" and the reason it failed (`reason_of` its exception)."""

    pod_view: NetnsView | None = None
    node_nsid: int | None = None  # the id the pod's namespace gives the node's
    pod_failure: str = ""
    node_view: NetnsView | None = None
    pod_nsid: int | None = None  # the id the node gives the pod's namespace
    nsid_missing: str = ""  # why pod_nsid is None
    node_failure: str = ""


class NetlinkAnswerer(Protocol):
    """Who answers a request: this process (IN_PROCESS), or a helper started earlier. `ask`
    starts the reads where they run elsewhere; the call it returns gives the answers."""

    def ask(self, request: NetlinkRequest) -> Callable[[], NetlinkAnswers]: ...


class InProcess:
    """The reads in this process, when their answers are wanted."""

    def ask(self, request: NetlinkRequest) -> Callable[[], NetlinkAnswers]:
        return lambda: answer(request)


IN_PROCESS = InProcess()


def try_nsid(session: object, ns_path: str) -> tuple[int | None, str]:
    """The id, or None and why: an id is a refinement, matching falls back to indexes."""
    from .interfaces import nsid_of

    try:
        nsid = nsid_of(session, ns_path)
    except Exception as exc:  # OSError opening the path, NetlinkError from the kernel
        return None, f"{ns_path}: {reason_of(exc)}"
    return nsid, "" if nsid is not None else "the node has given it no id"


class OwnNamespace:
    """The network namespace of this process, opened and described before a request comes (a
    helper does it while the parent scans): the node's, when the request says this process is
    in it. `node_side` then asks it for the pod's id and closes it; `close` alone otherwise."""

    def __init__(self) -> None:
        from .interfaces import describe, rtnl_session

        self._stack = contextlib.ExitStack()
        self.view: NetnsView | None = None
        self.failure = ""
        try:
            self._session = self._stack.enter_context(rtnl_session("", own_namespace=True))
            self.view = describe(self._session)
        except Exception as exc:  # as answer's node read
            self.failure = reason_of(exc)
            self.close()

    def node_side(self, pod_path: str) -> tuple[NetnsView | None, int | None, str, str]:
        """(the view, the id it gives the pod's namespace, why none, why no view)."""
        pod_nsid, nsid_missing = None, ""
        if not self.failure:
            pod_nsid, nsid_missing = try_nsid(self._session, pod_path)
        try:
            self.close()
        except Exception as exc:  # closing failed: as a failed read
            self.failure = self.failure or reason_of(exc)
        if self.failure:
            return None, None, "", self.failure
        return self.view, pod_nsid, nsid_missing, ""

    def close(self) -> None:
        self._stack.close()


def answer(request: NetlinkRequest, own: OwnNamespace | None = None) -> NetlinkAnswers:
    """Both reads, in this process (pyroute2 is imported here, if not yet); the node's from
    `own` when it is this process's namespace and `own` was read ahead."""
    from .interfaces import describe, rtnl_session

    pod_view, node_nsid, pod_failure = None, None, ""
    if request.pod_read:
        try:
            with rtnl_session(request.pod_path, request.pod_own) as session:
                pod_view, node_nsid = describe(session), try_nsid(session, request.node_path)[0]
        except Exception as exc:  # pyroute2 raises OSError, NetlinkError, TimeoutError, ...
            pod_failure = reason_of(exc)
    node_view, pod_nsid, nsid_missing, node_failure = None, None, "", ""
    if request.node_read and request.node_own and own is not None:
        node_view, pod_nsid, nsid_missing, node_failure = own.node_side(request.pod_path)
    elif request.node_read:
        try:
            with rtnl_session(request.node_path, request.node_own) as session:
                node_view = describe(session)
                pod_nsid, nsid_missing = try_nsid(session, request.pod_path)
        except Exception as exc:  # as above
            node_failure = reason_of(exc)
    if own is not None:
        own.close()  # unused when the node's namespace is not this process's, or not read
    return NetlinkAnswers(
        pod_view, node_nsid, pod_failure, node_view, pod_nsid, nsid_missing, node_failure
    )
