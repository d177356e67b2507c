"""nsinspect-server's command line, credentials pipe and privilege checks: every bad input is a
clear error, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

import pytest

from nsinspect.agent.server.kube_credentials import (
    CredentialsError,
    credentials_from_fd,
    in_cluster_credentials,
)
from nsinspect.agent.server.main import main, parser
from nsinspect.agent.server.privileges import PrivilegeError, effective_capabilities


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--port", "70000"], "is not a port number"),
        (["--api-port", "x"], "is not a port number"),
        (["--threads", "0"], "is not a whole number"),
        (["--idle-timeout", "-1"], "is not a whole number"),
        (["--detail-timeout", "0"], "between 0 and 3600"),
        (["--drop-to", "0:0"], "a UID other than 0"),
        (["--drop-to", "nobody"], "is not UID:GID"),
        (["--api-auth", "sometimes"], "invalid choice"),
    ],
)
def test_bad_flags_are_clear_errors(
    arguments: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["--results-dir", "/nonexistent", *arguments])
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_the_environment_gives_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSINSPECT_RESULTS_DIR", "/run/x")
    monkeypatch.setenv("NSINSPECT_PORT", "19")
    monkeypatch.setenv("NSINSPECT_API_PORT", "0")
    monkeypatch.setenv("NSINSPECT_BIND", "::")
    args = parser().parse_args([])
    assert (args.results_dir, args.port, args.api_port, args.bind) == (Path("/run/x"), 19, 0, "::")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the refusal of uid 0)")
def test_root_is_refused_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--results-dir", str(tmp_path), "--port", "0", "--api-port", "0"]) == 2
    assert "must not run as root" in capsys.readouterr().err


def credentials_on_a_pipe(data: bytes) -> int:
    """The read end of a pipe a thread writes `data` to (more than a pipe holds, at times)."""
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb") as pipe, contextlib.suppress(BrokenPipeError):
            pipe.write(data)

    threading.Thread(target=write, daemon=True).start()
    return read_end


def test_credentials_from_the_pipe() -> None:
    document = {"server": "https://10.0.0.1:6443", "token": "t", "ca_pem": None,
                "cert_pem": None, "key_pem": None, "verify": False}  # fmt: skip
    credentials = credentials_from_fd(credentials_on_a_pipe(json.dumps(document).encode()))
    assert (credentials.server, credentials.token, credentials.verify) == (
        "https://10.0.0.1:6443", "t", False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (b"{not json", "malformed"),
        (b'["a list"]', "malformed"),
        (b'{"token": "t"}', "malformed"),
        (b"x" * (1024 * 1024 + 1), "exceed"),
    ],
)
def test_bad_credentials_are_clear_errors(data: bytes, complaint: str) -> None:
    with pytest.raises(CredentialsError, match=complaint):
        credentials_from_fd(credentials_on_a_pipe(data))


def test_a_closed_fd_is_a_clear_error() -> None:
    read_end, write_end = os.pipe()
    os.close(write_end)
    os.close(read_end)
    with pytest.raises(CredentialsError, match="cannot read credentials"):
        credentials_from_fd(read_end)


def test_capabilities_are_read_from_status(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000200000\n")
    assert effective_capabilities(str(status)) == 1 << 21
    status.write_text("Name:\tx\n")
    with pytest.raises(PrivilegeError, match="no CapEff"):
        effective_capabilities(str(status))
    with pytest.raises(PrivilegeError, match="cannot read"):
        effective_capabilities(str(tmp_path / "absent"))


def test_in_cluster_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert in_cluster_credentials(tmp_path) is None
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    assert in_cluster_credentials(tmp_path) is None  # no token file: not a pod's account
    (tmp_path / "token").write_text("sa-token\n")
    with pytest.raises(CredentialsError, match="CA"):
        in_cluster_credentials(tmp_path)
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    credentials = in_cluster_credentials(tmp_path)
    assert credentials is not None and credentials.server == "https://[fd00::1]:443"
    assert credentials.token_file == str(tmp_path / "token")
