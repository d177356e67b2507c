"""Every output of the CLI pinned: byte for byte on a fake node, normalised on real pods.

A refactor that must keep the outputs as they are is checked by this test alone; a change that is
meant is accepted with `NSINSPECT_UPDATE_GOLDEN=1 pytest tests/integration/test_golden_outputs.py`
and shows up in the diff of tests/golden/ (each directory's index.txt lists its commands).

On the fake node the only differences allowed are the temporary directory (`<TMP>`), the node's
name (`<NODE>`: os.uname is made to say so) and the scan's wall-clock time (`<TAKEN_AT>`). On real
pods, pids, inodes, ids, addresses and the like become placeholders numbered by first appearance
(tests/harness/golden_volatile.py), and table columns are compared without their widths.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import golden_node
from harness.cri_node import CriNode, CriPod
from harness.golden import (
    GoldenDir,
    Run,
    file_stem,
    fix_taken_at,
    fixed_node_name,
    run_cli,
    run_process,
)
from harness.golden_volatile import Placeholders, keep_rows
from harness.podman import container_inspect, kube_play
from harness.synthetic import wait_for

NODE = "<NODE>"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my-nginx-pod.yaml"
PODMAN_SEED = "nsi-golden-seed"  # the example's pod under a name no other test plays

# -- A: the fake node, byte for byte ---------------------------------------------------------

POD_FORMATS = ("table", "wide", "json", "yaml", "dot")
FAKE_PODS: list[tuple[str, ...]] = [
    (golden_node.SEED,),
    (golden_node.INTRUDER,),
    (golden_node.HOSTNET,),
    (golden_node.GONE,),
    (golden_node.RUNTIME_LESS,),
    (golden_node.WEB, "-n", "default"),
    (golden_node.WEB, "-n", "kube-system"),
]
FAKE_COMMANDS: list[tuple[str, ...]] = [
    *[("pods", "-o", fmt) for fmt in ("table", "wide", "json", "yaml")],
    ("pods", "-n", "kube-system", "-o", "table"),
    *[("pod", *pod, "-o", fmt) for pod in FAKE_PODS for fmt in POD_FORMATS],
    # A sandbox, an app container, one with an unreadable link, a runtime-less pod's member,
    # a process of no pod (its comm with spaces and parentheses).
    *[
        ("pid", pid, "-o", fmt)
        for pid in ("300", "310", "470")
        for fmt in ("table", "wide", "json")
    ],
    ("pid", "310", "-o", "yaml"),
    ("pid", "503", "-o", "table"),
    *[("pid", "700", "-o", fmt) for fmt in ("table", "json")],
    # A namespace three pods' containers share, a pinned one in use, the orphan (as readlink
    # prints it), and the list of pinned namespaces.
    *[("ns", "net:4026532177", "-o", fmt) for fmt in ("table", "wide", "json", "yaml")],
    ("ns", "ipc:4026532441", "-o", "table"),
    *[("ns", "net:[4026532900]", "-o", fmt) for fmt in ("table", "wide", "json")],
    *[("ns", "-o", fmt) for fmt in ("table", "wide", "json", "yaml")],
    *[("doctor", "-o", fmt) for fmt in ("table", "json", "yaml")],
    ("doctor", "-n", "default", "-o", "table"),
    # Errors: their words and exit codes.
    ("pod", "my-nginx-pdo", "-o", "table"),
    ("pod", "no-such-pod", "-o", "json"),
    ("pod", golden_node.WEB, "-o", "table"),
    ("pod", golden_node.SEED, "-n", "default", "-o", "table"),
    ("pid", "99999", "-o", "table"),
    ("ns", "net:1", "-o", "table"),
    ("ns", "foo:12", "-o", "table"),
    ("pod", golden_node.SEED, "-o", "toml"),
    # kubectl's conventions (issue I): names, rows alone, the pods of no namespace, an empty
    # list (said on stderr), doctor's wide table, a format a command does not take.
    ("pods", "-o", "name"),
    ("pods", "--no-headers", "-o", "wide"),
    ("pods", "-n", "-", "-o", "table"),
    ("pods", "-n", "nsi-golden-empty", "-o", "table"),
    ("pods", "-n", "nsi-golden-empty", "-o", "json"),
    ("pod", golden_node.SEED, "-o", "name"),
    ("doctor", "-o", "wide"),
    ("doctor", "-o", "name"),
    ("pid", "700", "-o", "name"),
]
# Commands that print no node name, run once more as a process to show that the in-process
# runs print what the installed script prints.
AS_A_PROCESS = {
    ("ns", "net:4026532177", "-o", "table"),
    ("pid", "700", "-o", "table"),
    ("ns", "-o", "wide"),
    ("pod", golden_node.WEB, "-o", "table"),
}
# On a terminal: the verdicts and severities in colour.
COLOUR_COMMANDS: list[tuple[str, ...]] = [
    ("pods", "-o", "table"),
    ("pod", golden_node.INTRUDER, "-o", "table"),
    ("pod", golden_node.WEB, "-n", "kube-system", "-o", "wide"),
    ("doctor", "-o", "table"),
]


@pytest.fixture
def fake_root() -> Iterator[Path]:
    """A directory whose path is as long on every run: YAML folds a long string at a width, so
    the length of a path in it decides where a line breaks."""
    root = Path(tempfile.mkdtemp(prefix="nsi-golden-", dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root)


@pytest.mark.root  # entering a pod's namespaces fails differently without CAP_SYS_ADMIN
def test_every_output_on_a_fake_node(fake_root: Path) -> None:
    if os.stat("/proc/self/ns/net").st_ino in golden_node.FAKE_NET_INODES:
        pytest.skip("this process's network namespace has an inode the fake node uses")
    node = golden_node.build(fake_root)
    options = ["--local", "--proc-root", str(node.proc.root), "--host-root", str(node.host_root)]
    golden = GoldenDir(
        "fake-node",
        "# nsinspect --local --proc-root <TMP>/proc --host-root <TMP>/host COMMAND\n",
    )

    def normalise(text: str) -> str:
        return fix_taken_at(text.replace(str(fake_root), "<TMP>"))

    with fixed_node_name(NODE):
        for command in FAKE_COMMANDS:
            run = run_cli([*options, *command])
            golden.record(command, run, normalise(run.stdout), normalise(run.stderr))
            if command in AS_A_PROCESS:
                assert run_process([*options, *command]) == run, "the script prints otherwise"
        for command in COLOUR_COMMANDS:
            run = run_cli([*options, *command], color=True)
            stem = f"{file_stem(command)}.color"
            golden.record(command, run, normalise(run.stdout), normalise(run.stderr), stem)
    golden.check()


# -- B: real pods, normalised ----------------------------------------------------------------


def seed_manifest(name: str) -> str:
    """The example's Pod YAML under another name."""
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"]["name"] = name
    return yaml.safe_dump(manifest)


@pytest.fixture(scope="module")
def podman_seed() -> Iterator[dict[str, Any]]:
    with kube_play(seed_manifest(PODMAN_SEED)) as inspected:
        yield inspected


def listens(pid: int, port: int) -> bool:
    """Whether a TCP socket listens on `port` in the network namespace of `pid`."""
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        if any(r.split()[1].endswith(f":{port:04X}") and r.split()[3] == "0A" for r in rows):
            return True
    return False


CRI_OPTIONS_SHOWN = (
    "--local --cri-socket <CRI_LAB>/containerd.sock --runtime-state containerd=<CRI_LAB>/state"
)


def cri_options(cri_node: CriNode) -> list[str]:
    """This session's CRI node, and no other: its socket, its containerd state."""
    state = f"containerd={cri_node.state_dir}"
    return ["--local", "--cri-socket", cri_node.socket, "--runtime-state", state]


# A process's memory, CPU time and start (issue I's process facts) differ on every run; the
# rest of the facts (user, uid, threads) are the pod's. D's tests hold the values to /proc.
USAGE_KEYS = {"rss_bytes": "<RSS>", "cpu_seconds": "<CPU>", "started_at": "<STARTED>"}
FACT_CELLS = re.compile(r"\| [0-9.]+(?:B|Ki|Mi|Gi) \| [0-9.]+s \| \S+Z \([^)]* ago\)")
FACT_LINE = re.compile(r"RSS [0-9.]+(?:B|Ki|Mi|Gi), CPU [0-9.]+s, started \S+Z \([^)]* ago\)")


def without_usage(value: Any) -> Any:
    """The document with each `process` section's usage figures as placeholders."""
    if isinstance(value, list):
        return [without_usage(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: (
            {k: USAGE_KEYS.get(k, v) for k, v in item.items()}
            if key == "process" and isinstance(item, dict)
            else without_usage(item)
        )
        for key, item in value.items()
    }


def record_pod(
    golden: GoldenDir,
    options: list[str],
    pod: Sequence[str],
    sandbox_pid: int,
    paths: Mapping[str, str],
) -> None:
    """A pod's report as JSON, table and wide, and its sandbox process's, all with one set of
    placeholders: the JSON names the values first, the tables reuse them."""
    # httpd binds its port a moment after the runtime says the container started.
    wait_for(lambda: listens(sandbox_pid, 80), what="httpd listening in the pod")
    placeholders = Placeholders(paths)

    def record(command: tuple[str, ...], stem: str) -> None:
        run = run_cli([*options, *command])
        assert run.exit_code == 0, run.stderr
        shown = tuple(placeholders.text(word) for word in command)
        if stem.endswith(".json"):
            stdout = placeholders.document(without_usage(json.loads(run.stdout)))
        else:
            stdout = placeholders.table(run.stdout)
            stdout = FACT_CELLS.sub("| <RSS> | <CPU> | <STARTED>", stdout)
            stdout = FACT_LINE.sub("RSS <RSS>, CPU <CPU>, started <STARTED>", stdout)
        golden.record(shown, run, stdout, placeholders.text(run.stderr), stem)

    with fixed_node_name(NODE):
        record(("pod", *pod, "-o", "json"), "pod.json")
        record(("pod", *pod, "-o", "table"), "pod.table")
        record(("pod", *pod, "-o", "wide"), "pod.wide")
        record(("pid", str(sandbox_pid), "-o", "json"), "pid.sandbox.json")
        record(("pid", str(sandbox_pid), "-o", "table"), "pid.sandbox.table")


REAL_PREAMBLE = (
    "# nsinspect {options} COMMAND; pids, inodes, ids, addresses, MACs, veths as placeholders,\n"
    "# tables with every run of 2+ spaces as ` | `\n"
)


@pytest.mark.root
@pytest.mark.podman
def test_real_podman_seed_pod(podman_seed: dict[str, Any]) -> None:
    """The example pod, played by podman."""
    golden = GoldenDir("podman-seed", REAL_PREAMBLE.format(options="--local"))
    infra = container_inspect(podman_seed["InfraContainerID"])["State"]["Pid"]
    record_pod(golden, ["--local"], [PODMAN_SEED], infra, paths={})
    golden.check()


@pytest.mark.root
@pytest.mark.containerd
def test_real_containerd_seed_pod(cri_node: CriNode, cri_pods: dict[str, CriPod]) -> None:
    """The seed pod as kubelet has containerd run it, found through the CRI."""
    options = cri_options(cri_node)
    golden = GoldenDir("containerd-seed", REAL_PREAMBLE.format(options=CRI_OPTIONS_SHOWN))
    seed = cri_pods["seed"]
    sandbox = json.loads(cri_node.status(seed).info["info"])["pid"]
    pod = (seed.spec.name, "-n", seed.spec.namespace)
    record_pod(golden, options, pod, sandbox, paths={str(cri_node.lab): "<CRI_LAB>"})
    golden.check()


@pytest.mark.root
@pytest.mark.podman
@pytest.mark.containerd
def test_real_pod_list_and_doctor(
    podman_seed: dict[str, Any], cri_node: CriNode, cri_pods: dict[str, CriPod]
) -> None:
    """The test's own pods among whatever else runs on this node: their items, rows, findings."""
    uids = {podman_seed["Id"], *(pod.uid for pod in cri_pods.values())}
    labels = {PODMAN_SEED, *(f"{p.spec.namespace}/{p.spec.name}" for p in cri_pods.values())}
    golden = GoldenDir("real-node", REAL_PREAMBLE.format(options=CRI_OPTIONS_SHOWN))
    placeholders = Placeholders({str(cri_node.lab): "<CRI_LAB>"})
    options = cri_options(cri_node)
    with fixed_node_name(NODE):
        listing = run_cli([*options, "pods", "-o", "json"])
        wide = run_cli([*options, "pods", "-o", "wide"])
        doctor = run_cli([*options, "doctor", "-o", "json"])
    document = json.loads(listing.stdout)
    document["items"] = [i for i in document["items"] if i["pod"]["uid"] in uids]
    assert len(document["items"]) == len(uids), [i["pod"] for i in document["items"]]
    findings = json.loads(doctor.stdout)
    findings["items"] = [i for i in findings["items"] if i["pod"] in labels]
    outputs: list[tuple[tuple[str, ...], Run, str]] = [
        (("pods", "-o", "json"), listing, placeholders.document(document)),
        (("pods", "-o", "wide"), wide, placeholders.table(keep_rows(wide.stdout, uids))),
        (("doctor", "-o", "json"), doctor, placeholders.document(findings)),
    ]
    for command, run, stdout in outputs:
        golden.record(command, run, stdout, placeholders.text(run.stderr))
    golden.check()
