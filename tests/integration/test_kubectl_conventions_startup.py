"""Start-up (issue I, item 3): `nsinspect --help`, `--version` and `pod --help` within 80 ms of
`python3 -c pass`, whole processes, median of interleaved rounds; and what the command tree
imports before any command runs."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

NSINSPECT = str(Path(sys.executable).with_name("nsinspect"))
BUDGET_SECONDS = 0.080
ROUNDS = 15
COMMANDS = {
    "--version": [NSINSPECT, "--version"],
    "--help": [NSINSPECT, "--help"],
    "pod --help": [NSINSPECT, "pod", "--help"],
}
# What a command may import when it runs, never before (cli/main.py's promise).
HEAVY = (
    "kubernetes",
    "yaml",
    "msgspec",
    "grpc",
    "pyroute2",
    "psutil",
    "jsonpath_ng",
    "importlib.metadata",
    "nsinspect.agent.scanner",
    "nsinspect.agent.report",
    "nsinspect.agent.daemon",
    "nsinspect.cli.local",
    "nsinspect.cli.remote",
    "nsinspect.cli.agent_command",
)


def elapsed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def test_help_and_version_start_within_80ms_of_bare_python() -> None:
    bare = [sys.executable, "-c", "pass"]
    times: dict[str, list[float]] = {name: [] for name in ["bare", *COMMANDS]}
    for _ in range(ROUNDS):  # interleaved: a busy moment costs every command alike
        times["bare"].append(elapsed(bare))
        for name, command in COMMANDS.items():
            times[name].append(elapsed(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    over = {name: medians[name] - medians["bare"] for name in COMMANDS}
    report = ", ".join(f"{name} +{seconds * 1000:.1f} ms" for name, seconds in over.items())
    print(f"python -c pass {medians['bare'] * 1000:.1f} ms; {report}")
    assert all(seconds < BUDGET_SECONDS for seconds in over.values()), report


def test_the_command_tree_imports_nothing_heavy() -> None:
    probe = (
        "import sys; import nsinspect.cli.main as m; "
        "m.cli.main(['--help'], standalone_mode=False); "
        "print('\\n'.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(done.stdout.splitlines())
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert not heavy, heavy
