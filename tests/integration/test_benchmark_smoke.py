"""The scan benchmark still runs end to end, at a tiny size (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_scan.py"


def test_the_benchmark_finds_every_pod_and_cleans_up(tmp_path: Path) -> None:
    results, run_json = tmp_path / "RESULTS.md", tmp_path / "run.json"
    results.write_text("# old results\n\nold table\n\n## Another benchmark\n\nkept\n")
    benchmark = subprocess.Popen(
        [sys.executable, str(BENCHMARK), "--pods", "5", "--containers", "2", "--rounds", "2",
         "--scrapes", "20", "--settle", "0", "--results", str(results), "--json", str(run_json)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        stdout, stderr = benchmark.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        # SIGTERM, not SIGKILL: the benchmark then removes the pods it started.
        benchmark.terminate()
        stdout, stderr = benchmark.communicate(timeout=60)
        pytest.fail(f"the benchmark took over 240 s: {stdout[-2000:]}{stderr[-2000:]}")
    assert benchmark.returncode == 0, stdout[-3000:] + stderr[-3000:]
    run = json.loads(run_json.read_text())
    assert (run["pods"], run["pods_found"], run["containers"]) == (5, 5, 2)
    assert run["synthetic_processes"] == 5 * (1 + 2 * 2)
    assert all(len(samples) == 2 for samples in run["samples"].values())
    assert "pods found: 5/5" in stdout
    assert "removed every process the benchmark started" in stdout
    written = results.read_text()
    assert "targets" in written and "old table" not in written
    assert written.endswith("\n## Another benchmark\n\nkept\n")  # other sections are kept


CLI_BENCHMARK = BENCHMARK.with_name("bench_cli.py")


def test_the_cli_benchmark_times_every_command_and_cleans_up(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# results\n\n## Another section\n\nkept\n")
    benchmark = subprocess.Popen(
        [sys.executable, str(CLI_BENCHMARK), "--pod-fleet", "3", "--list-fleet", "2",
         "--containers", "1", "--rounds", "2", "--results", str(results)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        stdout, stderr = benchmark.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        benchmark.terminate()  # it removes its pods on SIGTERM
        stdout, stderr = benchmark.communicate(timeout=60)
        pytest.fail(f"the CLI benchmark took over 240 s: {stdout[-2000:]}{stderr[-2000:]}")
    assert benchmark.returncode == 0, stdout[-3000:] + stderr[-3000:]
    commands = ("python3 -c pass", "nsinspect --version", "nsinspect --help", "pod NAME (3 pods)",
                "pods -A -o json (2 pods)", "lsns -J (2 pods)")  # fmt: skip
    for command in commands:
        assert command in stdout
    assert "pods -A -o json (2 pods) / lsns -J" in stdout
    assert "removed every process the benchmark started" in stdout
    text = results.read_text()
    assert "## Another section\n\nkept" in text
    assert text.count("## CLI: whole-process timings") == 1
