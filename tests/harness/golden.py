"""Golden outputs: run the real CLI, normalise what a run cannot fix, compare with files on disk.

`NSINSPECT_UPDATE_GOLDEN=1` writes the files instead of comparing (and removes the ones no
command produces any more): the way to accept a deliberate change of output.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from nsinspect.cli.main import cli

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("NSINSPECT_UPDATE_GOLDEN") == "1"
# The environment a run must not inherit: each of these would change what the CLI reads.
CLEARED_ENV: Mapping[str, str | None] = {
    name: None
    for name in (
        "NSINSPECT_PROC_ROOT",
        "NSINSPECT_HOST_ROOT",
        "NSINSPECT_CRI_SOCKET",
        "NSINSPECT_RUNTIME_STATE",
        "KUBECONFIG",
        # NO_COLOR or TERM=dumb turn colour off (issue I): the colour goldens need it on.
        "NO_COLOR",
        "TERM",
    )
}
TAKEN_AT = re.compile(r"^(\s*\"?taken_at\"?: )-?[0-9][0-9.eE+-]*(,?)$", re.MULTILINE)


@dataclass(frozen=True)
class Run:
    """One CLI run: what it printed on each stream and how it exited."""

    args: tuple[str, ...]
    stdout: str
    stderr: str
    exit_code: int
    color: bool = False


def run_cli(args: Sequence[str], *, color: bool = False) -> Run:
    """The real command group, in this process: stdout and stderr apart, as a shell sees them."""
    result = CliRunner(env=dict(CLEARED_ENV)).invoke(
        cli, list(args), prog_name="nsinspect", color=color, catch_exceptions=False
    )
    # The bytes as written (`result.stdout` would turn \r\n into \n), strictly UTF-8.
    stdout, stderr = result.stdout_bytes.decode(), result.stderr_bytes.decode()
    return Run(tuple(args), stdout, stderr, result.exit_code, color)


def run_process(args: Sequence[str]) -> Run:
    """The installed `nsinspect` script, as a process: what run_cli stands in for."""
    script = Path(sys.executable).with_name("nsinspect")
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    done = subprocess.run(
        [str(script), *args], capture_output=True, env=env, timeout=60, check=False
    )
    return Run(tuple(args), done.stdout.decode(), done.stderr.decode(), done.returncode)


@contextmanager
def fixed_node_name(name: str) -> Iterator[None]:
    """Local mode names the node after `os.uname().nodename`: the same name on every machine, so
    the goldens do not depend on where they were taken (nor do column widths on its length)."""
    fields = list(os.uname())

    def uname() -> os.uname_result:
        fields[1] = name
        return os.uname_result(fields)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "uname", uname)
        yield


def fix_taken_at(text: str) -> str:
    """`taken_at` is the wall clock of the scan, in JSON and YAML alike."""
    return TAKEN_AT.sub(r"\1<TAKEN_AT>\2", text)


def file_stem(command: Sequence[str]) -> str:
    """`pod my-nginx-pod -o wide` -> `pod.my-nginx-pod.wide`: the command names its file."""
    words: list[str] = []
    output = "table"
    items = iter(command)
    for word in items:
        if word in ("-o", "--output"):
            output = next(items)
        elif word in ("-n", "--namespace"):
            words.append(f"n-{next(items) or 'none'}")
        else:
            words.append(word.replace(":", "-").replace("[", "").replace("]", ""))
    return ".".join([*words, output])


def file_name(stem: str) -> str:
    """`pods.wide` -> `pods.wide.txt`; `pods.json` stays: a format that has a suffix is one."""
    return f"{stem}.txt" if stem.rsplit(".", 1)[-1] in ("table", "wide", "color") else stem


class GoldenDir:
    """The expected outputs of one scenario, one file per output, compared byte for byte; and
    `index.txt`, every command with its exit code."""

    def __init__(self, name: str, preamble: str) -> None:
        self.directory = GOLDEN / name
        self.actual: dict[str, str] = {"index.txt": preamble}

    def record(
        self, command: Sequence[str], run: Run, stdout: str, stderr: str, stem: str = ""
    ) -> None:
        """stdout as `<stem>[.txt]` (even when empty), stderr when any as `<stem>.stderr.txt`;
        `command` as the index shows it (without the options every command of it has)."""
        stem = stem or file_stem(command)
        name = file_name(stem)
        assert name not in self.actual, f"two commands write {name}"
        self.actual[name] = stdout
        if stderr:
            self.actual[f"{stem}.stderr.txt"] = stderr
        terminal = "  (on a terminal: colour)" if run.color else ""
        line = f"exit {run.exit_code}  {name:<44} $ nsinspect {' '.join(command)}{terminal}"
        self.actual["index.txt"] += line + "\n"

    def check(self) -> None:
        """Compare every file (or, with NSINSPECT_UPDATE_GOLDEN=1, write them all)."""
        if UPDATE:
            self._write()
            return
        on_disk = {p.name for p in self.directory.glob("*")} if self.directory.is_dir() else set()
        problems = [
            diff_text(self.directory / name, self._read(name), self.actual.get(name))
            for name in sorted(on_disk | set(self.actual))
            if self._read(name) != self.actual.get(name)
        ]
        assert not problems, (
            f"{len(problems)} golden file(s) under {self.directory} differ from this run "
            "(NSINSPECT_UPDATE_GOLDEN=1 rewrites them, when the change is meant):\n"
            + "\n".join(problems)
        )

    def _read(self, name: str) -> str | None:
        path = self.directory / name
        return path.read_bytes().decode() if path.is_file() else None

    def _write(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in {p.name for p in self.directory.glob("*")} - set(self.actual):
            (self.directory / stale).unlink()
        for name, text in self.actual.items():
            (self.directory / name).write_bytes(text.encode())


def diff_text(path: Path, expected: str | None, actual: str | None) -> str:
    if expected is None:
        return f"--- {path}: no golden file; this run printed:\n{actual}"
    if actual is None:
        return f"--- {path}: a golden file, but no command of this run writes it any more"
    lines = difflib.unified_diff(
        expected.splitlines(keepends=True),
        actual.splitlines(keepends=True),
        fromfile=f"{path} (golden)",
        tofile=f"{path} (this run)",
    )
    # A last line without its newline is a difference too: say so, as diff(1) does.
    text = "".join(
        line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines
    )
    return text or f"--- {path}: differs in bytes a line diff does not show"
