"""A child forked before a pod's scan, ready by the time the scan is done to do its netlink reads.

`nsinspect pod NAME` spends ~100 ms importing pyroute2, about as long as the targeted scan reads
/proc: on a machine with two cores the child imports it while the parent scans (and reads its own
network namespace, which is the node's where nsinspect runs on the node), then answers one
request with the same code the parent would run (`netlink_reads.answer`), and waits for the
parent's report to be done (it is one of the node's processes a scan reads, as the parent is, and
must not vanish between the scan and the details: it would count as unreadable). The parent
falls back to answering itself when the child is gone, fails, or does not answer in time, so the
details are the same either way; only where the reads run differs. (The namespaces are entered
as in the parent: pyroute2's NetNS forks its own helper from the child.)

Forked while the CLI has no other thread. The child touches nothing of the parent's but its own
pipe ends, and leaves with os._exit (no atexit, no flush of the parent's buffered output).
Messages go as model.pipe_messages sends them.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import signal
import sys
from collections.abc import Callable

from ..model.pipe_messages import receive_message, send_message
from .netlink_reads import IN_PROCESS, NetlinkAnswers, NetlinkRequest, OwnNamespace, answer

# pyroute2's own timeouts are seconds; a child that takes longer than this has a problem the
# parent's own attempt will show.
ANSWER_TIMEOUT_SECONDS = 30.0


class NetlinkHelper:
    """One request's answerer, started early; `close` it when no request came."""

    def __init__(self, pid: int, requests: int, answers: int) -> None:
        self.pid = pid
        self._requests = requests  # our write end
        self._answers = answers  # our read end
        self._asked = False
        self._answered = False
        self._closed = False

    @property
    def answered(self) -> bool:
        """Whether the child gave the answer (False: this process read, or nobody asked)."""
        return self._answered

    @classmethod
    def start(cls) -> NetlinkHelper | None:
        """Fork the child (None when fork fails: the parent then answers itself)."""
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (request_read, request_write, answer_read, answer_write):
                os.close(fd)
            return None
        if pid == 0:  # the child
            os.close(request_write)
            os.close(answer_read)
            _serve(request_read, answer_write)
        os.close(request_read)
        os.close(answer_write)
        return cls(pid, request_write, answer_read)

    def ask(self, request: NetlinkRequest) -> Callable[[], NetlinkAnswers]:
        """Send the request now; the call returned gives the child's answer, or this
        process's own when the child gives none, or one where a read failed (whatever failed,
        this process says it as it would have), or was asked already (it answers once)."""
        if self._asked or self._closed:
            return IN_PROCESS.ask(request)
        self._asked = True
        try:
            send_message(self._requests, request)
        except OSError:  # the child is gone
            self.close()
            return IN_PROCESS.ask(request)
        return lambda: self._answers_to(request)

    def _answers_to(self, request: NetlinkRequest) -> NetlinkAnswers:
        if not self._closed:
            try:
                answers = receive_message(self._answers, ANSWER_TIMEOUT_SECONDS)
            except Exception:  # gone, closed, late, or garbled: this process answers
                answers = None
            if isinstance(answers, NetlinkAnswers) and not failed(answers):
                self._answered = True
                return answers
            self.close()
        return answer(request)

    def close(self) -> None:
        """End the child and reap it. Having answered, it waits for this (a process alive
        until the report is done, as this one is, whose fds a scan of the node reads like any
        other's); else it is killed, wherever it is."""
        if self._closed:
            return
        self._closed = True
        for fd in (self._requests, self._answers):
            os.close(fd)
        with contextlib.suppress(ChildProcessError):
            if not self._answered:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)


def failed(answers: NetlinkAnswers) -> bool:
    return bool(answers.pod_failure or answers.node_failure)


def _serve(requests: int, answers: int) -> None:
    """The child: import pyroute2 and read its own network namespace (the node's, where
    nsinspect runs on the node), wait for the request, answer it, exit. Never returns."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it quietly
        gc.disable()  # a short life, its memory freed at exit: no collection is worth its walk
        _skip_package_namespace("pyroute2")
        own = OwnNamespace()  # imports pyroute2; the node's namespace, where nsinspect runs
        request = receive_message(requests, None)
        if isinstance(request, NetlinkRequest):
            send_message(answers, answer(request, own))
            os.read(requests, 1)  # the parent closes its end once its report is done
            code = 0
    except BaseException:  # nothing of the child may reach the parent's terminal
        code = 1
    finally:
        os._exit(code)


def _skip_package_namespace(name: str) -> None:
    """Make `name` importable without running its __init__: its submodules import as usual.
    pyroute2's __init__ imports every netlink family it has (~45 ms of its ~130); interfaces.py
    imports IPRoute and NetNS from pyroute2.iproute. Only in the child: should a submodule miss
    something the __init__ would have set, the child fails, and the parent reads itself."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.submodule_search_locations is not None:
        sys.modules[name] = importlib.util.module_from_spec(spec)
