"""The ways an API server fails its clients, for the tests of the CLI's error messages: a port
that accepts and never answers, one that closes every connection at once, and TLS with
certificates made here (a CA the kubeconfig trusts or not; a certificate for other names than
the server's address). Only for tests.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.kube_standin import write_kubeconfig


@contextmanager
def _listener(serve_one: str) -> Iterator[int]:
    """A port on 127.0.0.1 whose connections are held open until the end (`serve_one` ==
    "hold") or closed as soon as accepted ("close")."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(16)
    listening.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listening.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if serve_one == "close":
                connection.close()
            else:
                held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listening.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listening.close()
        for connection in held:
            connection.close()


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a stuck API server)."""
    with _listener("hold") as port:
        yield port


@contextmanager
def closing_server() -> Iterator[int]:
    """A port that closes every connection as soon as it is accepted."""
    with _listener("close") as port:
        yield port


@dataclass(frozen=True, slots=True)
class Certificates:
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA that signed nothing of this server's
    certificate: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    ca, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", f"/CN={name}", "-keyout", str(key),
             "-out", str(ca))  # fmt: skip
    return ca, key


def make_certificates(directory: Path, names: tuple[str, ...]) -> Certificates:
    """A CA, a server certificate it signed for `names` (DNS names, or IP addresses), and a
    second CA unrelated to both."""
    ca, ca_key = _make_ca(directory, "standin-ca")
    other_ca, _ = _make_ca(directory, "other-ca")
    key, request = directory / "server.key", directory / "server.csr"
    certificate, extensions = directory / "server.crt", directory / "server.ext"
    alt_names = ",".join(
        f"IP:{name}" if name.replace(".", "").isdigit() else f"DNS:{name}" for name in names
    )
    extensions.write_text(f"subjectAltName={alt_names}\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", f"/CN={names[0]}", "-keyout", str(key), "-out", str(request))  # fmt: skip
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "2", "-extfile", str(extensions),
             "-out", str(certificate))  # fmt: skip
    return Certificates(ca=ca, other_ca=other_ca, certificate=certificate, key=key)


def server_tls(certificates: Certificates) -> ssl.SSLContext:
    """The stand-in's side of TLS (cluster_standin.serve_cluster's `tls`)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.certificate, certificates.key)
    return context


def write_tls_kubeconfig(path: Path, server: str, ca: Path, server_name: str | None = None) -> Path:
    """A kubeconfig for `server` (an https URL) that trusts `ca`, and expects the certificate
    to be `server_name`'s when given (kubeconfig's tls-server-name)."""
    config: dict[str, Any] = json.loads(write_kubeconfig(path, 0).read_text())
    cluster = {"server": server, "certificate-authority": str(ca)}
    if server_name is not None:
        cluster["tls-server-name"] = server_name
    config["clusters"][0]["cluster"] = cluster
    path.write_text(json.dumps(config))
    return path
