"""`--cri-socket` and `--runtime-state`: where the CLI looks for the node's runtimes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from harness.fakeproc import FakeProc
from harness.fakeruntimes import OWN, FakeContainerd, cgroup_lines, containerd_annotations
from nsinspect.cli.main import cli

UID = "0dce96c8-10db-4274-82a3-05b59e8d9b10"
SANDBOX = "a1" * 32


def test_a_state_dir_for_an_unknown_runtime_is_refused() -> None:
    result = CliRunner().invoke(cli, ["--runtime-state", "rkt=/var/lib/rkt", "pods"])
    assert result.exit_code == 2
    assert "'rkt=/var/lib/rkt' is not RUNTIME=DIR" in result.output


def test_settings_reach_the_scan(tmp_path: Path) -> None:
    """A containerd state dir elsewhere, and a CRI socket that is not there: both are used."""
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "init", ppid=0, start_time=1)
    proc.add(
        400,
        "pause",
        start_time=400,
        namespaces={"net": 4026532177, "mnt": 4026532178, "pid": 4026532179},
        cgroup=cgroup_lines(f"/kubepods/besteffort/pod{UID}/{SANDBOX}", 2),
    )
    FakeContainerd(tmp_path, state="opt/k3s/containerd").add(
        SANDBOX, containerd_annotations("sandbox", SANDBOX, "web", UID), OWN, pid=400
    )
    result = CliRunner().invoke(
        cli,
        [
            "--proc-root",
            str(proc.root),
            "--host-root",
            str(tmp_path),
            "--runtime-state",
            "containerd=/opt/k3s/containerd",
            "--cri-socket",
            "/run/k3s/containerd/containerd.sock",
            "pods",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    runtimes = {(r["what"], r["path"]): r for r in listing["runtimes"]}
    state = runtimes[("state-dir", "/opt/k3s/containerd")]
    assert (state["runtime"], state["found_by"], state["readable"]) == ("containerd", "flag", True)
    socket = runtimes[("cri-socket", "/run/k3s/containerd/containerd.sock")]
    assert (socket["found_by"], socket["readable"]) == ("flag", False)
    assert socket["reason"] == "no such socket"
    [pod] = listing["items"]
    assert (pod["pod"]["name"], pod["pod"]["runtime"], pod["sandbox"]["pid"]) == (
        "web",
        "containerd",
        400,
    )
