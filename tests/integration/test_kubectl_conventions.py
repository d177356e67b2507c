"""kubectl's habits through the installed `nsinspect` (issue I): flags before or after the verb,
-o=json, jsonpath, name, --no-headers, --sort-by, empty lists on stderr, `-n -`, png and colour
on a terminal. The node is the golden tests' fake node (tests/harness/golden_node.py), and the
truth each output is held to is the same command's -o json, parsed."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness import golden_node

pytestmark = [pytest.mark.root]  # the fake node's pod reports enter namespaces (as the goldens)
NSINSPECT = str(Path(sys.executable).with_name("nsinspect"))
QUIET_ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "NO_COLOR", "NSINSPECT_PROC_ROOT")
}


@pytest.fixture(scope="module")
def node_flags() -> Iterator[list[str]]:
    root = Path(tempfile.mkdtemp(prefix="nsi-kubectl-conv-", dir="/tmp"))
    try:
        node = golden_node.build(root)
        yield ["--proc-root", str(node.proc.root), "--host-root", str(node.host_root)]
    finally:
        shutil.rmtree(root)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NSINSPECT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env or QUIET_ENV,
    )


def document(*args: str) -> dict[str, Any]:
    done = run(*args)
    assert done.returncode in (0, 1, 3), done.stderr  # doctor exits 1/3 on what it found
    parsed: dict[str, Any] = json.loads(done.stdout)
    for part in (parsed, *parsed.get("items", [])):
        part.pop("taken_at", None)  # each run scans anew
    return parsed


def names(listing: dict[str, Any]) -> list[str]:
    return [item["pod"]["name"] for item in listing["items"]]


def on_a_terminal(args: Sequence[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Run nsinspect with its stdout and stderr on a pseudo-terminal: (exit code, output)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [NSINSPECT, *args], stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    output = bytearray()
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=30), bytes(output)


def test_global_flags_go_before_or_after_the_verb(node_flags: list[str]) -> None:
    before = document("--local", *node_flags, "-o", "json", "pods")
    after = document("pods", "--local", *node_flags, "-o", "json")
    mixed = document(node_flags[0], node_flags[1], "pods", "--local", *node_flags[2:], "-ojson")
    assert before == after == mixed
    assert golden_node.SEED in names(before)
    # -n before the verb filters as -n after it does.
    in_default = document("--local", *node_flags, "-n", "default", "pods", "-o", "json")
    assert {item["pod"]["namespace"] for item in in_default["items"]} == {"default"}
    assert in_default == document("pods", "-n", "default", "--local", *node_flags, "-o", "json")
    # A later place wins over an earlier one, as a flag given twice does in kubectl.
    assert document("-n", "kube-system", "pods", "-n", "default", "--local", *node_flags,
                    "-o", "json") == in_default  # fmt: skip


@pytest.mark.parametrize("form", [["-o=json"], ["-ojson"], ["--output=json"], ["--output", "json"]])
def test_every_spelling_of_output_json(node_flags: list[str], form: list[str]) -> None:
    assert document("pods", "--local", *node_flags, *form) == document(
        "pods", "--local", *node_flags, "-o", "json"
    )


def test_jsonpath_and_name_print_what_the_document_holds(node_flags: list[str]) -> None:
    listing = document("pods", "--local", *node_flags, "-o", "json")
    plain = run("pods", "--local", *node_flags, "-o", "jsonpath={.items[*].pod.name}")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == " ".join(names(listing))  # kubectl adds no newline
    template = '{range .items[*]}{.pod.namespace}/{.pod.name}{"\\t"}{.sandbox.pid}{"\\n"}{end}'
    ranged = run("pods", "--local", *node_flags, "-o", f"jsonpath={template}")
    expected = [
        f"{item['pod']['namespace']}/{item['pod']['name']}\t"
        + ("null" if item["sandbox"]["pid"] is None else str(item["sandbox"]["pid"]))
        for item in listing["items"]
    ]
    assert ranged.stdout.splitlines() == expected
    named = run("pods", "--local", *node_flags, "-o", "name")
    assert named.stdout.splitlines() == [f"pod/{name}" for name in names(listing)]
    one = run("pod", golden_node.SEED, "--local", *node_flags, "-o", "name")
    assert one.stdout == f"pod/{golden_node.SEED}\n"
    # What -o name prints, `pod` takes back.
    again = run(
        "pod", f"pod/{golden_node.SEED}", "--local", *node_flags, "-o", "jsonpath={.pod.name}"
    )
    assert again.stdout == golden_node.SEED


def test_a_jsonpath_file_and_a_bad_template(node_flags: list[str], tmp_path: Path) -> None:
    template = tmp_path / "names.jsonpath"
    template.write_text('{range .items[*]}{.pod.name}{"\\n"}{end}')
    listing = document("pods", "--local", *node_flags, "-o", "json")
    from_file = run("pods", "--local", *node_flags, f"-o=jsonpath-file={template}")
    assert from_file.stdout.splitlines() == names(listing)
    bad = run("pods", "--local", *node_flags, "-o", "jsonpath={range .items[*]}{.pod.name}")
    assert bad.returncode == 2
    assert "{range} without its {end}" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_no_headers_prints_the_rows_alone(node_flags: list[str]) -> None:
    for command, fmt in (("pods", "table"), ("pods", "wide"), ("doctor", "table")):
        table = run(command, "--local", *node_flags, "-o", fmt).stdout.splitlines()
        rows = run(command, "--local", *node_flags, "-o", fmt, "--no-headers").stdout.splitlines()
        assert table[0].split()[0] in ("NAMESPACE", "SEVERITY")
        assert rows, command
        assert rows == table[1 : 1 + len(rows)]  # the rows, then nothing of what follows them
        assert len(rows) == len(document(command, "--local", *node_flags, "-o", "json")["items"])


def test_sort_by_orders_the_items_in_every_format(node_flags: list[str]) -> None:
    listing = document("pods", "--local", *node_flags, "-o", "json")
    by_name = document("pods", "--local", *node_flags, "--sort-by=.pod.name", "-o", "json")
    assert names(by_name) == sorted(names(listing))
    by_pid = document("pods", "--local", *node_flags, "--sort-by", "{.sandbox.pid}", "-o", "json")
    pids = [item["sandbox"]["pid"] for item in by_pid["items"]]
    # Pods without a sandbox pid first, then by number (not as text).
    keys = [(pid is not None, pid or 0) for pid in pids]
    assert keys == sorted(keys) and None in pids and len(set(pids)) > 2
    assert sorted(names(by_pid)) == sorted(names(listing))
    findings = document("doctor", "--local", *node_flags, "--sort-by=.code", "-o", "json")
    codes = [item["code"] for item in findings["items"]]
    assert codes == sorted(codes) and len(set(codes)) > 1
    missing = run("pods", "--local", *node_flags, "--sort-by=.pod.nothing")
    assert missing.returncode == 2 and "no item has that field" in missing.stderr


def test_empty_lists_say_so_on_stderr_as_kubectl(node_flags: list[str]) -> None:
    empty = run("pods", "--local", *node_flags, "-n", "nsi-conv-empty")
    assert (empty.returncode, empty.stdout) == (0, "")
    # (The fake node has a process whose namespaces cannot be read: a warning follows.)
    assert empty.stderr.splitlines()[0] == "No resources found in nsi-conv-empty namespace."
    named = run("pods", "--local", *node_flags, "-n", "nsi-conv-empty", "-o", "name")
    assert (named.returncode, named.stdout) == (0, "")
    as_json = document("pods", "--local", *node_flags, "-n", "nsi-conv-empty", "-o", "json")
    assert as_json["kind"] == "PodList" and as_json["items"] == []
    doctor = run("doctor", "--local", *node_flags, "-n", "nsi-conv-empty")
    assert doctor.stdout == ""
    assert "No findings" in doctor.stderr


def test_dash_namespace_selects_the_pods_without_one(node_flags: list[str]) -> None:
    listing = document("pods", "--local", *node_flags, "-o", "json")
    expected = [i["pod"]["name"] for i in listing["items"] if i["pod"]["namespace"] == ""]
    assert expected and len(expected) < len(listing["items"])
    for flag in ("-", ""):
        chosen = document("pods", "--local", *node_flags, "-n", flag, "-o", "json")
        assert names(chosen) == expected
    report = document("pod", golden_node.RUNTIME_LESS, "-n", "-", "--local", *node_flags,
                      "-o", "json")  # fmt: skip
    assert report["pod"]["name"] == golden_node.RUNTIME_LESS
    # -A overrides -n, as kubectl's does.
    everything = document("pods", "-n", "default", "-A", "--local", *node_flags, "-o", "json")
    assert names(everything) == names(listing)


def test_doctor_wide_and_name(node_flags: list[str]) -> None:
    findings = document("doctor", "--local", *node_flags, "-o", "json")
    wide = run("doctor", "--local", *node_flags, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == [
        "SEVERITY", "CODE", "POD", "CONTAINER", "TYPE", "NODE", "EVIDENCE", "MESSAGE",
    ]  # fmt: skip
    rows = wide[1 : 1 + len(findings["items"])]
    for row, item in zip(rows, findings["items"], strict=True):
        assert item["code"] in row and item["message"] in row
        for key in item["evidence"]:
            assert f"{key}=" in row
    named = run("doctor", "--local", *node_flags, "-o", "name").stdout.splitlines()
    pods = [item["pod"].rpartition("/")[2] for item in findings["items"] if item["pod"]]
    assert named == [f"pod/{pod}" for pod in dict.fromkeys(pods)]


def test_commands_refuse_formats_that_make_no_sense(node_flags: list[str]) -> None:
    for args in (("pid", "1", "-o", "name"), ("ns", "net:4026532177", "-o", "name"),
                 ("pods", "-o", "png"), ("-o", "dot", "doctor")):  # fmt: skip
        done = run(*args, "--local", *node_flags)
        assert done.returncode == 2, args
        assert "does not take -o" in done.stderr and "Traceback" not in done.stderr


def test_request_timeout_takes_kubectl_durations(node_flags: list[str]) -> None:
    for duration in ("0", "5s", "1m30s", "500ms", "7"):
        done = run("--request-timeout", duration, "pods", "--local", *node_flags, "-o", "name")
        assert done.returncode == 0, (duration, done.stderr)
    bad = run("pods", "--request-timeout", "5 seconds", "--local", *node_flags)
    assert bad.returncode == 2 and "is not a duration" in bad.stderr


def test_png_refuses_a_terminal_but_not_a_pipe(node_flags: list[str]) -> None:
    code, output = on_a_terminal(["pod", golden_node.SEED, "--local", *node_flags, "-o", "png"],
                                 QUIET_ENV)  # fmt: skip
    assert code == 2
    assert b"refusing to write PNG to a terminal; redirect it: -o png > pod.png" in output
    piped = subprocess.run(
        [NSINSPECT, "pod", golden_node.SEED, "--local", *node_flags, "-o", "png"],
        capture_output=True, timeout=60, check=False, env=QUIET_ENV,
    )  # fmt: skip
    assert b"refusing" not in piped.stderr
    if shutil.which("dot"):
        assert piped.returncode == 0 and piped.stdout.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("extra", "coloured"),
    [({}, True), ({"NO_COLOR": "1"}, False), ({"TERM": "dumb"}, False), ({"NO_COLOR": ""}, True)],
)
def test_colour_only_on_a_terminal_that_wants_it(
    node_flags: list[str], extra: dict[str, str], coloured: bool
) -> None:
    env = {**QUIET_ENV, "TERM": "xterm-256color", **extra}
    code, output = on_a_terminal(["doctor", "--local", *node_flags], env)
    assert code in (1, 3), output
    assert (b"\x1b[" in output) is coloured, output[:400]
    assert b"CRITICAL" in output or b"WARNING" in output
