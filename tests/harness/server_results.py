"""A results directory laid out as the contract says (what the scanner writes), written by the
test, and the real `nsinspect-server` run over it as uid 65534 (`--drop-to`), on free ports."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.agent_process import Response, free_port, stop_process
from nsinspect.agent.exchange import layout
from nsinspect.agent.exchange.heartbeat import (
    Heartbeat,
    KubernetesState,
    boottime,
    write_heartbeat,
)

SERVER_UID = SERVER_GID = 65534
NODE = "node-b"
TAKEN_AT = 1_765_000_000.0


def pod_item(namespace: str, name: str) -> dict[str, Any]:
    return {"pod": {"namespace": namespace, "name": name, "uid": f"uid-{namespace}-{name}"}}


def finding_item(namespace: str, name: str) -> dict[str, Any]:
    return {"code": "NS001", "severity": "warning", "message": f"{name} shares", "pod":
            f"{namespace}/{name}" if namespace else name, "container": "", "ns_type": "net",
            "evidence": {}}  # fmt: skip


@dataclass
class ResultsTree:
    """One generation of made-up pods: namespace -> pod names ("" = pods with no namespace)."""

    dir: Path
    pods: dict[str, list[str]]
    generation: int = 1
    errors: list[dict[str, Any]] = field(default_factory=list)

    def pod_list(self, namespaces: list[str]) -> dict[str, Any]:
        items = [pod_item(ns, name) for ns in sorted(namespaces) for name in self.pods.get(ns, [])]
        return self._envelope("PodList", items)

    def finding_list(self, namespaces: list[str], orphans: bool) -> dict[str, Any]:
        items = [finding_item(ns, n) for ns in sorted(namespaces) for n in self.pods.get(ns, [])]
        if orphans:  # findings about no pod: only in the whole list
            items.append(finding_item("", "") | {"code": "NS900", "pod": ""})
        return self._envelope("FindingList", items)

    def _envelope(self, kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        document: dict[str, Any] = {"apiVersion": "nsinspect/v1", "kind": kind, "node": NODE,
                                    "taken_at": TAKEN_AT, "items": items}  # fmt: skip
        if self.errors:
            document["errors"] = self.errors
        return document

    def write(self) -> None:
        gen = self.dir / layout.generation_name(self.generation)
        for sub in (layout.PODS_DIR, layout.FINDINGS_DIR):
            (gen / sub).mkdir(parents=True, exist_ok=True)
        every = list(self.pods)
        _write(gen / layout.PODS, self.pod_list(every))
        _write(gen / layout.FINDINGS, self.finding_list(every, orphans=True))
        _write(gen / layout.NAMESPACES, {"apiVersion": "nsinspect/v1", "kind": "NamespaceList",
                                         "node": NODE, "taken_at": TAKEN_AT, "orphans": [],
                                         "items": []})  # fmt: skip
        index = {}
        for namespace in self.pods:
            key = index[namespace] = layout.namespace_key(namespace)
            _write(gen / layout.PODS_DIR / f"{key}.json", self.pod_list([namespace]))
            _write(gen / layout.FINDINGS_DIR / f"{key}.json", self.finding_list([namespace], False))
        _write(gen / layout.PODS_DIR / layout.EMPTY, self.pod_list([]))
        _write(gen / layout.FINDINGS_DIR / layout.EMPTY, self.finding_list([], False))
        (gen / layout.METRICS).write_text(
            "# HELP nsinspect_pods Pods seen.\n# TYPE nsinspect_pods gauge\n"
            f"nsinspect_pods {sum(len(v) for v in self.pods.values())}\n"
        )
        (gen / layout.INDEX).write_bytes(
            layout.GenerationIndex(NODE, TAKEN_AT, self.generation, index).to_json()
        )
        layout.publish_generation(self.dir, self.generation)
        share(self.dir)

    def heartbeat(
        self,
        *,
        ended_ago: float | None = 0.5,
        running_for: float | None = None,
        step: str = "idle",
        interval: float = 1.0,
        stuck_after: float = 60.0,
    ) -> None:
        now = boottime()
        write_heartbeat(self.dir, Heartbeat(
            pid=os.getpid(), node=NODE, interval=interval, stuck_after=stuck_after,
            scan_started=None if running_for is None else now - running_for,
            step=step if running_for is not None else "idle",
            last_scan_ended=None if ended_ago is None else now - ended_ago,
            generation=self.generation if ended_ago is not None else None,
            kubernetes=KubernetesState.DISABLED,
        ))  # fmt: skip


@contextmanager
def written_tree(pods: dict[str, list[str]]) -> Iterator[ResultsTree]:
    """A results directory of one generation of `pods`, with a fresh heartbeat."""
    with results_parent() as parent:
        tree = ResultsTree(parent / "results", dict(pods))
        tree.write()
        tree.heartbeat()
        yield tree


@contextmanager
def results_parent() -> Iterator[Path]:
    """A directory uid 65534 may cross (pytest's tmp_path is root's 0700), removed after."""
    path = Path(tempfile.mkdtemp(prefix="nsinspect-b-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, separators=(",", ":")))


def share(path: Path) -> None:
    """The scanner's permissions: group 65534 may read (dirs 0750, files 0640; the group is
    given when root)."""
    for root, _dirs, files in os.walk(path):
        _give(Path(root), 0o750)
        for name in files:
            _give(Path(root, name), 0o640)


def _give(path: Path, mode: int) -> None:
    if os.geteuid() == 0:
        os.chown(path, 0, SERVER_GID, follow_symlinks=False)
    if not path.is_symlink():
        path.chmod(mode)


@dataclass
class Reply(Response):
    headers: dict[str, str]


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    api_port: int
    log_path: Path
    parent_end: int = -1  # the write end of the server's --parent-fd pipe

    def get(self, path: str, *, api: bool = False, method: str = "GET",
            headers: dict[str, str] | None = None, source: str | None = None,
            timeout: float = 10.0) -> Reply:  # fmt: skip
        port = self.api_port if api else self.port
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=timeout, source_address=(source, 0) if source else None
        )
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            headers = dict(response.getheaders())
            content_type = headers.get("Content-Type", "")
            return Reply(response.status, content_type, response.read(), headers)
        finally:
            connection.close()

    def wait_serving(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}: {self.log()}")
            try:
                self.get("/livez", timeout=2)
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"server not serving after {timeout} s: {self.log()}")

    def stop(self) -> float:
        took = stop_process(self.process)
        if self.parent_end >= 0:
            os.close(self.parent_end)
            self.parent_end = -1
        return took

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    results_dir: Path,
    log_dir: Path,
    *args: str,
    credentials: dict[str, Any] | None = None,
    drop: bool = True,
) -> ServerProcess:
    port, api_port = free_port(), free_port()
    command = [sys.executable, "-m", "nsinspect.agent.server", "--results-dir", str(results_dir),
               "--bind", "127.0.0.1", "--port", str(port), "--api-port", str(api_port),
               *args]  # fmt: skip
    if drop:
        command += ["--drop-to", f"{SERVER_UID}:{SERVER_GID}"]
    # The server stops when this end closes: at stop(), or when the test process dies.
    parent_read, parent_end = os.pipe()
    command += ["--parent-fd", str(parent_read)]
    pass_fds: tuple[int, ...] = (parent_read,)
    read_end = write_end = -1
    if credentials is not None:
        read_end, write_end = os.pipe()
        command += ["--kube-credentials-fd", str(read_end)]
        pass_fds = (parent_read, read_end)
    log_path = log_dir / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, pass_fds=pass_fds)
    if read_end >= 0:
        os.close(read_end)
        with os.fdopen(write_end, "w") as pipe:
            json.dump(credentials, pipe)
    os.close(parent_read)
    return ServerProcess(process, port, api_port, log_path, parent_end)
