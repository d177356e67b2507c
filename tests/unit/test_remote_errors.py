"""kubectl's words for the API's failures (cli/remote_errors.py): the Status of an HTTP error
whole, client-go's words for a bare status code, and each kind of connection failure, both as
the official client's REST calls raise them (urllib3) and as its port-forward does
(websocket-client, through a real port-forward attempt here). Never a library's text."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from harness.agent_process import free_port
from harness.api_failures import closing_server, silent_server
from nsinspect.cli import portforward
from nsinspect.cli.remote_errors import (
    AccessRefusedError,
    ApiError,
    api_failure,
    connection_failure,
    status_failure,
)

LIBRARY_WORDS = ("urllib3", "MaxRetryError", "Pool", "websocket", "Errno", "_ssl.c", "Error(")
SERVER = "https://api.example:6443"


def status(code: int, reason: str, message: str) -> str:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "code": code, "reason": reason, "message": message})  # fmt: skip


def test_a_status_is_said_whole_with_its_reason() -> None:
    message = 'pods "web" is forbidden: User "' + "u" * 500 + '" cannot get resource "pods"'
    failure = status_failure(403, status(403, "Forbidden", message), "Forbidden")
    assert failure.message == f"Error from server (Forbidden): {message}"
    assert isinstance(failure, AccessRefusedError)  # the same on every node: a list fails


def test_unauthorized_is_kubectls_login_sentence() -> None:
    failure = status_failure(401, status(401, "Unauthorized", "Unauthorized"), "Unauthorized")
    assert failure.message == "error: You must be logged in to the server (Unauthorized)"


@pytest.mark.parametrize(
    ("code", "body", "said"),
    [
        (404, "", "Error from server (NotFound): the server could not find the requested resource"),
        (503, "<html>busy</html>",
         "Error from server (ServiceUnavailable): the server is currently unable to handle the "
         "request"),
        (418, None, "Error from server: the server responded with the status code 418 but did "
         "not return more information"),
    ],
)  # fmt: skip
def test_a_status_code_without_a_status_has_client_gos_words(
    code: int, body: str | None, said: str
) -> None:
    assert status_failure(code, body, "Whatever").message == said
    assert not isinstance(status_failure(code, body, None), AccessRefusedError)


def test_the_servers_text_reaches_the_terminal_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    failure = status_failure(500, status(500, "InternalError", "boom\x1b]0;owned\x07"), None)
    failure.show()
    assert capsys.readouterr().err == "Error from server (InternalError): boom\\x1b]0;owned\\x07\n"


def wrapped(cause: BaseException) -> Exception:
    """How urllib3 hands a failure up: MaxRetryError(reason=NewConnectionError from cause)."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

    if isinstance(cause, ConnectionResetError | http.client.RemoteDisconnected):
        reason: Exception = ProtocolError("Connection aborted.", cause)
    else:
        reason = NewConnectionError(None, f"Failed to establish a new connection: {cause}")  # type: ignore[arg-type]
        reason.__cause__ = cause
    return MaxRetryError(None, "/api/v1/pods", reason)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cause", "said"),
    [
        (ConnectionRefusedError(111, "Connection refused"),
         "The connection to the server api.example:6443 was refused - did you specify the right "
         "host or port?"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
         "Unable to connect to the server: dial tcp: lookup api.example: no such host"),
        (OSError(113, "No route to host"),
         "Unable to connect to the server: dial tcp api.example:6443: connect: no route to host"),
        (ConnectionResetError(104, "Connection reset by peer"),
         "Unable to connect to the server: read: connection reset by peer"),
        (http.client.RemoteDisconnected("Remote end closed connection without response"),
         "Unable to connect to the server: EOF"),
    ],
    ids=["refused", "dns", "unreachable", "reset", "closed"],
)  # fmt: skip
def test_connection_failures_of_the_rest_client(cause: BaseException, said: str) -> None:
    assert connection_failure(wrapped(cause), SERVER) == said


def test_a_read_timeout() -> None:
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError

    timeout = ReadTimeoutError(None, "/api", "Read timed out. (read timeout=1)")  # type: ignore[arg-type]
    said = connection_failure(MaxRetryError(None, "/api", timeout), SERVER)  # type: ignore[arg-type]
    assert said == (
        "Unable to connect to the server: net/http: request canceled (Client.Timeout exceeded "
        "while awaiting headers)"
    )


def test_an_unknown_failure_still_says_no_library_text() -> None:
    said = connection_failure(RuntimeError("HTTPSConnectionPool(host=...): urllib3 says"), SERVER)
    assert said.startswith("Unable to connect to the server: ")
    assert not any(word in said for word in LIBRARY_WORDS)


def test_an_answer_the_client_cannot_read_is_no_connection_failure() -> None:
    said = api_failure(ValueError("Invalid value for `containers`, must not be `None`"), SERVER)
    assert (
        said.message
        == "Server returned an unexpected response: the answer does not fit the API's types"
    )
    refused = api_failure(wrapped(ConnectionRefusedError(111, "Connection refused")), SERVER)
    assert refused.message.startswith("The connection to the server api.example:6443 was refused")


def test_certificate_verification_codes() -> None:
    unknown = ssl.SSLCertVerificationError(1, "certificate verify failed")
    unknown.verify_code, unknown.verify_message = 20, "unable to get local issuer certificate"
    assert connection_failure(unknown, SERVER) == (
        "Unable to connect to the server: tls: failed to verify certificate: x509: certificate "
        "signed by unknown authority"
    )


def core_for(server: str) -> Any:
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host, configuration.retries = server, 0
    return client.CoreV1Api(client.ApiClient(configuration))


def forward_failure(server: str, timeout: float = 5.0) -> ApiError:
    """What the port-forward path says when it cannot reach `server`."""
    with pytest.raises(portforward.ApiUnreachableError) as unreachable:
        portforward.get(core_for(server), "nsinspect", "agent", 9978, "/api/v1/pods",
                        authorization=None, timeout=timeout)  # fmt: skip
    return api_failure(unreachable.value.__cause__ or unreachable.value, server)


@pytest.fixture
def silent() -> Iterator[int]:
    with silent_server() as port:
        yield port


def test_port_forward_refused() -> None:
    port = free_port()
    assert forward_failure(f"http://127.0.0.1:{port}").message == (
        f"The connection to the server 127.0.0.1:{port} was refused - did you specify the right "
        "host or port?"
    )


def test_port_forward_to_a_name_that_does_not_resolve() -> None:
    assert forward_failure("https://nsinspect-test.invalid:6443").message == (
        "Unable to connect to the server: dial tcp: lookup nsinspect-test.invalid: no such host"
    )


def test_port_forward_to_a_server_that_never_answers(silent: int) -> None:
    assert forward_failure(f"http://127.0.0.1:{silent}", timeout=1.0).message == (
        "Unable to connect to the server: net/http: request canceled (Client.Timeout exceeded "
        "while awaiting headers)"
    )


def test_port_forward_to_a_server_that_hangs_up() -> None:
    with closing_server() as port:
        said = forward_failure(f"http://127.0.0.1:{port}").message
    assert said in (
        "Unable to connect to the server: read: connection reset by peer",
        "Unable to connect to the server: EOF",
    )
