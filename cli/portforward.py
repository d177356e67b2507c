"""One HTTP GET to a port on a pod's loopback, through the API server's pod port-forward.

The agents' JSON API listens on 127.0.0.1 inside their pods, so nothing but `pods/portforward`
(which RBAC gates) reaches it: the official client opens the websocket port-forward, and one
HTTP/1.1 request goes over the forwarded socket, which is closed after the answer.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

MAX_ANSWER_BYTES = 256 << 20  # a node's whole pod list is a few MB; a runaway answer is refused
FORWARDING_THREAD = "Kubernetes port forward proxy"  # the official client's name for it
OPENING_THREAD = "nsinspect port-forward opening"
HANDSHAKE = re.compile(r"Handshake status (?P<status>\d{3})")


@dataclass(frozen=True, slots=True)
class AgentAnswer:
    status: int
    body: bytes


class PortForwardRefusedError(Exception):
    """The API server refused to open the port-forward (a websocket handshake status); `body`
    is its answer (a Status, whose message says who may not do what)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"the API server answered {status}")
        self.status = status
        self.body = body


class ApiUnreachableError(Exception):
    """The API server could not be reached, or did not answer in time: its cause says how
    (remote_errors.api_failure words it)."""


class PortSilentError(Exception):
    """The port-forward opened, but the pod's port did not answer (refused, closed, too slow)."""


def _refusal(reason: str) -> PortForwardRefusedError | None:
    """What the official client's port-forward failure says: websocket-client puts the handshake
    status and the API's Status body in the exception's text. None: not a handshake status."""
    found = HANDSHAKE.search(reason)
    if found is None:
        return None
    _, _, body = reason.rpartition(" -+-+- ")
    return PortForwardRefusedError(int(found.group("status")), body.strip())


class _QuietForwardingThreads:
    """The official client relays each port-forward on a thread of its own, which raises on a
    frame it does not expect; the request waiting on it then fails with a clear error of its
    own (no answer in time), so that thread's traceback is not printed. Others' still are."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.previous = threading.excepthook

    def install(self) -> None:
        with self.lock:
            if threading.excepthook != self.hook:
                self.previous = threading.excepthook
                threading.excepthook = self.hook

    def hook(self, args: threading.ExceptHookArgs) -> None:
        if args.thread is None or not args.thread.name.startswith(FORWARDING_THREAD):
            self.previous(args)


QUIET_FORWARDING_THREADS = _QuietForwardingThreads()


def open_port_forward(core: Any, namespace: str, pod: str, port: int, timeout: float) -> Any:
    """The official client's PortForward to `port` of `pod`, open within `timeout` seconds.

    The client's websocket connects with no timeout at all (websocket-client's default applies
    only to its create_connection, which the client does not use), so an API server that
    accepts and never answers would hold the CLI forever: the opening runs on a daemon thread
    of its own, given up on after `timeout`."""
    opened: dict[str, Any] = {}

    def open_forward() -> None:
        try:
            opened["forward"] = _open(core, namespace, pod, port)
        except BaseException as exc:  # handed to the waiting thread below
            opened["error"] = exc

    QUIET_FORWARDING_THREADS.install()
    opening = threading.Thread(target=open_forward, name=OPENING_THREAD, daemon=True)
    opening.start()
    opening.join(timeout)
    if opening.is_alive():
        raise ApiUnreachableError("the port-forward did not open") from TimeoutError("timed out")
    if "error" in opened:
        raise opened["error"]
    return opened["forward"]


def _open(core: Any, namespace: str, pod: str, port: int) -> Any:
    from kubernetes.client.exceptions import ApiException, ApiValueError
    from kubernetes.stream import portforward

    try:
        return portforward(
            core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port)
        )
    except ApiException as exc:
        if exc.status:  # an HTTP answer from the API server (not the websocket's)
            raise PortForwardRefusedError(exc.status, str(exc.body or "")) from exc
        refusal = _refusal(str(exc.reason))
        if refusal is not None:
            raise refusal from exc
        raise ApiUnreachableError("the port-forward did not open") from _cause(exc)
    except (ApiValueError, OSError) as exc:
        raise ApiUnreachableError("the port-forward did not open") from exc
    except Exception as exc:  # websocket-client's own (a timeout, a closed connection)
        raise ApiUnreachableError("the port-forward did not open") from exc


def _cause(exc: BaseException) -> BaseException:
    """The official client wraps a websocket's connection failure in an ApiException of no
    status: what it wrapped."""
    return exc.__cause__ or exc.__context__ or exc


def get(
    core: Any,
    namespace: str,
    pod: str,
    port: int,
    path: str,
    *,
    authorization: str | None,
    timeout: float,
) -> AgentAnswer:
    """GET `path` from `port` on `pod`'s loopback; the whole answer within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    forward = open_port_forward(core, namespace, pod, port, timeout)
    channel = forward.socket(port)
    try:
        return _exchange(channel, port, path, authorization, deadline)
    except (OSError, http.client.HTTPException) as exc:
        error = forward.error(port)
        raise PortSilentError(error.strip()[:300] if error else _why(exc)) from exc
    finally:
        forward.close()


def _why(exc: Exception) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer in time"
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionError):
        return "the connection was closed without an answer"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _exchange(
    channel: socket.socket, port: int, path: str, authorization: str | None, deadline: float
) -> AgentAnswer:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.sock = channel  # already connected: the forwarded stream
    headers = {"Accept": "application/json", "Connection": "close"}
    if authorization:
        headers["Authorization"] = authorization
    channel.settimeout(_left(deadline))
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = bytearray()
    while len(body) <= MAX_ANSWER_BYTES:
        channel.settimeout(_left(deadline))
        piece = response.read1(1 << 20)
        if not piece:
            return AgentAnswer(response.status, bytes(body))
        body += piece
    raise PortSilentError(f"the answer is larger than {MAX_ANSWER_BYTES >> 20} MiB")


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left
