"""The scanner role as a process of its own (`nsinspect agent --role scanner`): it writes results
and a heartbeat that advance, answers detail requests for a real pod with the report a scan in this
process gives, listens on no network socket, and ends within a second of SIGTERM, removing its
detail socket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.process_facts import net_sockets, socket_inodes
from harness.synthetic import SyntheticPod, start_pod, wait_for
from nsinspect.agent.exchange.detail_protocol import ask_detail
from nsinspect.agent.exchange.heartbeat import Heartbeat, read_heartbeat
from nsinspect.agent.exchange.layout import current_generation, read_index
from nsinspect.agent.scanner import NodeReports, ScanConfig, SnapshotBuilder

pytestmark = pytest.mark.root


@dataclass
class Scanner:
    process: subprocess.Popen[bytes]
    results: Path
    log: Path

    def heartbeat(self) -> Heartbeat:
        return read_heartbeat(self.results)

    def pods(self) -> dict[str, Any]:
        generation = current_generation(self.results)
        assert generation is not None
        document: dict[str, Any] = json.loads((generation / "pods.json").read_bytes())
        return document


@pytest.fixture
def scanner(tmp_path: Path) -> Iterator[Scanner]:
    results, log = tmp_path / "results", tmp_path / "scanner.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            ["nsinspect", "agent", "--role", "scanner", "--results-dir", str(results),
             "--no-kubernetes", "--interval", "0.3"],
            stdout=output, stderr=output,
        )  # fmt: skip
    running = Scanner(process, results, log)
    try:
        wait_for(
            lambda: process.poll() is not None or b'"scanner started"' in log.read_bytes(),
            what="the scanner to start",
        )
        assert process.poll() is None, log.read_text()
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[SyntheticPod]:
    synthetic = start_pod(tmp_path, containers=1)
    yield synthetic
    synthetic.stop()


def test_results_and_heartbeat_advance(scanner: Scanner) -> None:
    wait_for(lambda: current_generation(scanner.results) is not None, what="a generation")
    first = scanner.heartbeat()
    assert first.pid == scanner.process.pid and first.kubernetes == "disabled"
    wait_for(
        lambda: (scanner.heartbeat().generation or 0) >= (first.generation or 0) + 3,
        what="three more generations",
    )
    later = scanner.heartbeat()
    assert later.last_scan_ended is not None and first.last_scan_ended is not None
    assert later.last_scan_ended > first.last_scan_ended
    generation = current_generation(scanner.results)
    assert generation is not None
    index = read_index(generation)
    assert index.generation >= (later.generation or 0) - 1 and index.node == os.uname().nodename
    assert len(list(scanner.results.glob("gen-*"))) <= 2


def test_the_scanner_listens_on_no_network_socket(scanner: Scanner) -> None:
    wait_for(lambda: current_generation(scanner.results) is not None, what="a generation")
    own = socket_inodes(scanner.process.pid)
    assert own, "the scanner holds its detail socket at least"
    listening = {s.inode for s in net_sockets() if s.listening or s.protocol.startswith("udp")}
    assert not own & listening, [s for s in net_sockets() if s.inode in own]


def test_a_detail_report_equals_a_local_scan_s(scanner: Scanner, pod: SyntheticPod) -> None:
    def scanned() -> bool:
        return any(i["sandbox"]["pid"] == pod.holder_pid for i in scanner.pods()["items"])

    wait_for(lambda: current_generation(scanner.results) is not None and scanned(), what="pod")
    item = next(i for i in scanner.pods()["items"] if i["sandbox"]["pid"] == pod.holder_pid)
    namespace, name = item["pod"].get("namespace", ""), item["pod"]["name"]
    code, body = ask_detail(scanner.results, namespace, name)
    assert code == 200, body
    remote = json.loads(body)

    snapshot = SnapshotBuilder(ScanConfig()).build()
    found = NodeReports(snapshot).find(namespace, name)
    assert found is not None
    local = json.loads(json.dumps(NodeReports(snapshot).pod_report(found).to_json()))
    for part in ("pod", "sandbox", "containers", "network", "uts", "ipc"):
        assert remote[part] == local[part], part
    assert remote["network"]["interfaces"], "the pod's own loopback at least"

    code, body = ask_detail(scanner.results, "no-such-namespace", name)
    assert code == 404 and json.loads(body)["kind"] == "Status"


def test_sigterm_ends_it_within_a_second_and_removes_the_socket(scanner: Scanner) -> None:
    socket_path = scanner.results / "detail.sock"
    wait_for(socket_path.exists, what="the detail socket")
    started = time.monotonic()
    scanner.process.send_signal(signal.SIGTERM)
    scanner.process.wait(timeout=5)
    assert time.monotonic() - started < 1.0
    assert not socket_path.exists()
    assert "stopping on SIGTERM" in scanner.log.read_text()
