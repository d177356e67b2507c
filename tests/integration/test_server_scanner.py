"""The server over a real scanner's results: the scanner (Agent, the scanner role, as root) scans
this machine with a synthetic pod on it; the server (uid 65534) serves its documents as written,
the pod's details through the detail socket (its network namespace checked against the kernel's),
and, once the scanner is killed, the last scan marked stale and /healthz failing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.server_results import ServerProcess, results_parent, start_server
from harness.synthetic import SyntheticPod, readlink_inode, start_pod, wait_for
from nsinspect.agent.exchange import layout

pytestmark = pytest.mark.root

INTERVAL = 0.5
SCAN_TIMEOUT = 2.0
SCANNER = """
import logging, pathlib, sys
from nsinspect.agent.daemon.agent import Agent, AgentConfig
from nsinspect.agent.scanner import ScanConfig
logging.basicConfig(level=logging.INFO)
config = AgentConfig(scan=ScanConfig(), interval=float(sys.argv[2]), kubernetes=False,
                     scan_timeout=float(sys.argv[3]), results_dir=pathlib.Path(sys.argv[1]))
Agent(config).run(lambda: print("started", flush=True))
"""


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[SyntheticPod]:
    synthetic = start_pod(tmp_path, containers=1)
    yield synthetic
    synthetic.stop()


@pytest.fixture
def split(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], ServerProcess, Path]]:
    with results_parent() as parent:
        results = parent / "results"
        log = tmp_path / "scanner.log"
        with open(log, "wb") as output:
            scanner = subprocess.Popen(
                [sys.executable, "-c", SCANNER, str(results), str(INTERVAL), str(SCAN_TIMEOUT)],
                stdout=output, stderr=output,
            )  # fmt: skip
        server = None
        try:
            wait_for(lambda: scanner.poll() is not None or b"started" in log.read_bytes(),
                     timeout=30, what="the scanner to start")  # fmt: skip
            assert scanner.poll() is None, log.read_text()
            server = start_server(results, tmp_path, "--detail-timeout", "10")
            server.wait_serving()
            yield scanner, server, results
        finally:
            if scanner.poll() is None:
                scanner.kill()
            scanner.wait()
            if server is not None:
                server.stop()


def test_a_real_scan_served_and_detailed(
    split: tuple[subprocess.Popen[bytes], ServerProcess, Path], pod: SyntheticPod
) -> None:
    scanner, server, results = split

    def ours() -> dict[str, object] | None:
        listed = server.get("/api/v1/pods", api=True)
        if listed.status != 200:
            return None
        found = [i for i in listed.json()["items"] if i["sandbox"]["pid"] == pod.holder_pid]
        return found[0] if found else None

    wait_for(lambda: ours() is not None, timeout=30, what="the synthetic pod served")
    item = ours()
    assert item is not None
    assert item["sandbox"]["namespaces"]["net"] == readlink_inode(pod.holder_pid, "net")  # type: ignore[index]
    namespace, name = item["pod"].get("namespace", ""), item["pod"]["name"]  # type: ignore[index, union-attr]

    wait_for(lambda: server.get("/readyz").status == 200, timeout=30, what="ready")
    whole = server.get("/api/v1/pods", api=True)
    served_generation = json.loads(whole.body)["taken_at"]
    current = layout.current_generation(results)
    assert current is not None
    if json.loads((current / layout.PODS).read_bytes())["taken_at"] == served_generation:
        assert whole.body == (current / layout.PODS).read_bytes()

    report = server.get(f"/api/v1/pods/{namespace or '-'}/{name}", api=True)
    assert report.status == 200, report.body
    details = report.json()
    assert details["pod"]["name"] == name
    assert details["sandbox"]["namespaces"]["net"] == readlink_inode(pod.holder_pid, "net")
    assert details["network"]["interfaces"], "the pod's own loopback at least"
    missing = server.get(f"/api/v1/pods/{namespace or '-'}/no-such-pod", api=True)
    assert missing.status == 404 and missing.json()["kind"] == "Status"

    metrics = server.get("/metrics").body.decode()
    assert "\nnsinspect_scan_stuck 0\n" in metrics and "nsinspect_scan_age_seconds " in metrics

    scanner.kill()
    scanner.wait()
    killed = time.monotonic()
    wait_for(lambda: server.get("/healthz").status == 503, timeout=SCAN_TIMEOUT + INTERVAL + 5,
             what="/healthz to fail")  # fmt: skip
    assert server.get("/healthz").json()["status"] == "stale"
    time.sleep(max(0.0, 3 * INTERVAL - (time.monotonic() - killed)))
    stale = server.get("/api/v1/pods", api=True)
    assert stale.status == 200 and "X-Nsinspect-Stale" in stale.headers
    assert [e["reason"] for e in stale.json()["errors"] if e["stage"] == "agent"] == ["stale"]
    gone = server.get(f"/api/v1/pods/{namespace or '-'}/{name}", api=True)
    assert gone.status == 503 and "the scanner is not running" in gone.json()["message"]
    assert server.get("/livez").status == 200
