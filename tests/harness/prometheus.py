"""A real Prometheus (Debian's package) on loopback, with a config and storage of its own."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.agent_process import free_port


@contextmanager
def prometheus_scraping(directory: Path, target: str, interval: str = "2s") -> Iterator[str]:
    """Yields Prometheus's base URL; it scrapes `target` (host:port) every `interval`."""
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  scrape_timeout: {interval}\n"
        "scrape_configs:\n"
        "  - job_name: nsinspect\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
        "        labels: {node: test-node}\n"
    )
    port = free_port()
    log = open(directory / "prometheus.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((directory / "prometheus.log").read_text()) from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def query(base: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=10) as reply:
        document = json.load(reply)
    assert document["status"] == "success", document
    result: list[dict[str, Any]] = document["data"]["result"]
    return result


def wait_for_query(
    base: str, promql: str, want_empty: bool = False, timeout: float = 60
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        result = query(base, promql)
        if bool(result) != want_empty:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{promql}: still {'non-empty' if want_empty else 'empty'}: {result}"
            )
        time.sleep(0.5)
