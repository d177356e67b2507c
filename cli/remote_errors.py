"""The remote mode's errors. An API failure is said in kubectl's words, the whole line as kubectl
prints it (`The connection to the server HOST:PORT was refused - ...`, `Unable to connect to the
server: ...`, `error: You must be logged in to the server (...)`, `Error from server (Reason):
MESSAGE` with the API's message whole), never the client library's text; the other errors are
sentences of nsinspect's own."""

from __future__ import annotations

import contextlib
import json
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from .terminal_text import CommandError, escape_controls

if TYPE_CHECKING:  # imported where a failure is worded: every command imports this module
    import socket
    import ssl

UNAUTHORIZED, FORBIDDEN = 401, 403
# What client-go says of an HTTP error whose body is not a Status (newUnstructuredResponseError).
STATUS_WORDS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    403: ("Forbidden", "the server does not allow access to the requested resource"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    429: (
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
    ),
    500: ("InternalError", "an error on the server has prevented the request from succeeding"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted, but may "
        "still be processing the request",
    ),
}
# OpenSSL's verification results (X509_V_ERR_*) that Go calls an unknown authority.
UNKNOWN_AUTHORITY = {18, 19, 20, 21}  # self-signed leaf, self-signed in chain, no local issuer, ...
EXPIRED = {9, 10}  # not yet valid, expired
NAME_MISMATCH = {62, 64}  # hostname, IP address
CERTIFICATE_PROBE_SECONDS = 2.0


class RemoteError(CommandError):
    exit_code = 1


class AccessRefusedError(RemoteError):
    """RBAC or the agent said no: the same answer on every node, so a list fails with it."""


class AgentSilentError(RemoteError):
    """The agent's port gave no answer; `why` says it without naming the node, for the lists'
    `unreachable` (node -> why)."""

    def __init__(self, node: str, port: int, reason: str) -> None:
        self.why = f"nothing answered on 127.0.0.1:{port} ({reason})"
        super().__init__(f"the agent on node {node} did not answer on 127.0.0.1:{port} ({reason})")


class ApiError(RemoteError):
    """The API server failed a call; the message is kubectl's whole line, printed as it is
    (kubectl's own `error: ` or `Error from server` prefix, not click's `Error: `)."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(escape_controls(self.message), file=file, err=file is None)


class ApiRefusedError(ApiError, AccessRefusedError):
    """401 or 403 from the API server: every agent's node would get the same answer."""


def status_failure(status: int, body: str | bytes | None, reason: str | None) -> ApiError:
    """An HTTP error of the API server: its Status in kubectl's words (the message whole), or
    client-go's words for the code when the body is not a Status."""
    document: Any = None
    with contextlib.suppress(TypeError, ValueError):
        document = json.loads(body or b"{}")
    document = document if isinstance(document, dict) else {}
    message, why = document.get("message"), document.get("reason")
    failure = ApiRefusedError if status in (UNAUTHORIZED, FORBIDDEN) else ApiError
    if not isinstance(message, str) or not message:
        why, message = STATUS_WORDS.get(
            status, ("", f"the server responded with the status code {status} but did not "
                     "return more information")
        )  # fmt: skip
        if status == UNAUTHORIZED and (reason or "") == "Unauthorized" and not body:
            message = "Unauthorized"
    if status == UNAUTHORIZED:
        return failure(f"error: You must be logged in to the server ({message})")
    if isinstance(why, str) and why:
        return failure(f"Error from server ({why}): {message}")
    return failure(f"Error from server: {message}")


def api_failure(exc: BaseException, server: str, ca_file: str | None = None) -> ApiError:
    """Any failure of a call to the API server at `server` (its URL), as kubectl says it:
    the official client's ApiException, urllib3's and websocket-client's errors, the socket's."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException) and exc.status:
        return status_failure(exc.status, exc.body, exc.reason)
    if not any(_of_the_connection(cause) for cause in _chain(exc)):
        # An answer came, and the client could not read it (a body its models refuse).
        return ApiError(
            "Server returned an unexpected response: the answer does not fit the API's types"
        )
    return ApiError(connection_failure(exc, server, ca_file))


def _of_the_connection(exc: BaseException) -> bool:
    """An error of the connection (the socket's, TLS's, urllib3's, websocket-client's), not
    of reading an answer."""
    module = type(exc).__module__
    return isinstance(exc, OSError) or module.startswith(("urllib3", "websocket", "http."))


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it, outermost first: urllib3 keeps the cause in
    `reason` (MaxRetryError) or in its arguments (ProtocolError, SSLError)."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 16:
        found.append(current)
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in reversed(current.args) if isinstance(a, BaseException)), None)
        current = inner if inner is not None else current.__cause__ or current.__context__
    return found


def _names(names: list[str]) -> str:
    return ", ".join(names)


def connection_failure(exc: BaseException, server: str, ca_file: str | None = None) -> str:
    """kubectl's line for a call that got no HTTP answer."""
    import http.client
    import socket
    import ssl

    address = urlsplit(server)
    host, netloc = address.hostname or server, address.netloc or server
    chain = _chain(exc)
    kinds = {type(e).__name__ for e in chain}
    unable = "Unable to connect to the server: "
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                unable
                + "tls: failed to verify certificate: "
                + _x509(cause, host, address.port or 443, ca_file)
            )
        if isinstance(cause, ConnectionRefusedError):
            return (
                f"The connection to the server {netloc} was refused - did you specify the "
                "right host or port?"
            )
        if isinstance(cause, socket.gaierror):
            return unable + f"dial tcp: lookup {host}: {_lookup_failure(cause)}"
    if "ConnectTimeoutError" in kinds and "NewConnectionError" not in kinds:
        return unable + f"dial tcp {netloc}: i/o timeout"
    if kinds & {"ReadTimeoutError", "TimeoutError", "timeout", "WebSocketTimeoutException"}:
        return (
            unable + "net/http: request canceled (Client.Timeout exceeded while awaiting headers)"
        )
    for cause in chain:
        if isinstance(cause, ssl.SSLError):
            if "WRONG_VERSION_NUMBER" in str(cause) or "record layer" in str(cause):
                return unable + "tls: first record does not look like a TLS handshake"
            return unable + f"tls: {(cause.reason or 'handshake failure').lower()}"
        if isinstance(cause, http.client.RemoteDisconnected | ConnectionAbortedError):
            return unable + "EOF"  # (RemoteDisconnected is a ConnectionResetError too)
        if isinstance(cause, ConnectionResetError):
            return unable + "read: connection reset by peer"
        if isinstance(cause, OSError) and cause.strerror:
            return unable + f"dial tcp {netloc}: connect: {cause.strerror.lower()}"
    if "WebSocketConnectionClosedException" in kinds or "ProtocolError" in kinds:
        return unable + "EOF"
    return unable + f"{server}: no answer"


def _lookup_failure(cause: socket.gaierror) -> str:
    """Go's resolver's words: `no such host` for a name that does not exist."""
    import socket

    if cause.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
        return "no such host"
    return "server misbehaving" if cause.errno == socket.EAI_FAIL else "i/o timeout"


def _x509(cause: ssl.SSLCertVerificationError, host: str, port: int, ca_file: str | None) -> str:
    """Go's x509 words for an OpenSSL verification failure."""
    code = cause.verify_code
    if code in UNKNOWN_AUTHORITY:
        return "x509: certificate signed by unknown authority"
    if code in EXPIRED:
        return "x509: certificate has expired or is not yet valid"
    if code in NAME_MISMATCH:
        return _name_mismatch(host, certificate_names(host, port, ca_file))
    return f"x509: {(cause.verify_message or 'certificate verify failed').lower()}"


def _name_mismatch(host: str, names: dict[str, list[str]] | None) -> str:
    """Go's HostnameError: the names the certificate is valid for, of the host's kind."""
    if names is None:
        return f"x509: certificate is not valid for {host}"
    is_address = host.replace(".", "").isdigit() or ":" in host
    if is_address and not names["IP Address"]:
        return (
            f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
        )
    valid = names["IP Address"] if is_address else names["DNS"]
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {_names(valid)}, not {host}"


def certificate_names(host: str, port: int, ca_file: str | None) -> dict[str, list[str]] | None:
    """The DNS names and IP addresses of the server's certificate (which verified against
    the CA, but not for `host`): a second handshake without the name check. None when that
    cannot be had."""
    import socket
    import ssl

    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    try:
        with (
            socket.create_connection((host, port), timeout=CERTIFICATE_PROBE_SECONDS) as raw,
            context.wrap_socket(raw) as tls,
        ):
            certificate: Any = tls.getpeercert() or {}
    except (OSError, ValueError):
        return None
    names: dict[str, list[str]] = {"DNS": [], "IP Address": []}
    for kind, value in certificate.get("subjectAltName", ()):
        if kind in names:
            names[kind].append(str(value).strip())
    return names
