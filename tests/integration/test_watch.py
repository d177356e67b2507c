"""`-w` through the real `nsinspect` executable, while a podman pod starts and loses a
container: each change is rendered again, a quiet node prints nothing more, the process sleeps
between looks, and Ctrl-C or SIGTERM ends it with exit 0 and no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from harness.podman import kube_play, pod_yaml, podman

pytestmark = [pytest.mark.root, pytest.mark.podman]

TAG = uuid.uuid4().hex[:8]
POD = f"nsi-watch-{TAG}"
SELECTOR = f"watch={TAG}"  # only this test's pod: other tests' pods come and go meanwhile
TAIL = ["tail", "-f", "/dev/null"]
TICKS = os.sysconf("SC_CLK_TCK")


class Watcher:
    """`nsinspect ... -w` running, its stdout and stderr gathered as they come."""

    def __init__(self, *args: str) -> None:
        # Ctrl-C as a terminal's user has it: a test run started in the background of a shell
        # without job control inherits SIGINT ignored, and the watch would inherit that. A
        # handled signal is the default again after exec, and then Python handles it.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self.process = subprocess.Popen(
                ["nsinspect", "--local", *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        finally:
            signal.signal(signal.SIGINT, previous)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=self._gather, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _gather(stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line)

    def wait_for(self, seen: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not seen():
            assert self.process.poll() is None, f"the watch ended: {''.join(self.err)}"
            assert time.monotonic() < deadline, f"no {what} within {timeout} s: {self.out}"
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=20)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def manifest() -> str:
    document = yaml.safe_load(pod_yaml(POD, {"app": TAIL, "sidecar": TAIL}))
    document["metadata"]["labels"] = {"watch": TAG}
    return str(yaml.safe_dump(document))


def renders(lines: list[str]) -> list[list[str]]:
    """The tables printed so far: a blank line separates two renders."""
    tables: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            tables[-1].append(line)
        else:
            tables.append([])
    return tables


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_pods_watch_renders_each_change_and_sleeps(manifest: str, signum: int) -> None:
    watcher = Watcher("pods", "-w", "-l", SELECTOR)
    try:
        # The first answer: no such pod yet, said on stderr as kubectl says it.
        watcher.wait_for(lambda: any("No resources found" in e for e in watcher.err), "answer")
        assert watcher.out == []
        with kube_play(manifest):
            watcher.wait_for(lambda: any(POD in line for line in watcher.out), "render of the pod")
            (table,) = [t for t in renders(watcher.out) if t]
            (row,) = [line for line in table if POD in line]
            assert row.split()[4] == "2"  # CONTAINERS

            # Nothing changes: nothing more is printed, and the process mostly sleeps.
            quiet_start, cpu_start = time.monotonic(), watcher.cpu_seconds()
            printed = len(watcher.out)
            time.sleep(7)
            cpu = watcher.cpu_seconds() - cpu_start
            wall = time.monotonic() - quiet_start
            assert len(watcher.out) == printed
            print(f"watch: {cpu:.2f} s CPU over {wall:.1f} s of a quiet node")
            assert cpu < 0.5 * wall  # a scan every 2 s, asleep in between

            # A container goes: the pod is rendered again with one fewer.
            podman("rm", "--force", "--time", "0", f"{POD}-sidecar")

            def one_container() -> bool:
                tables = [t for t in renders(watcher.out) if t]
                return any(
                    line.split()[1] == POD and line.split()[4] == "1" for line in tables[-1][1:]
                )

            watcher.wait_for(one_container, "render with one container")
            assert len([t for t in renders(watcher.out) if t]) == 2
        returncode = watcher.stop(signum)
        assert returncode == 0
        assert "Traceback" not in "".join(watcher.err)
    finally:
        watcher.kill()


def documents(lines: list[str]) -> list[dict[str, Any]]:
    """The complete JSON documents printed so far, one after another as `-w -o json` does."""
    text, found, position = "".join(lines), [], 0
    decoder = json.JSONDecoder()
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        try:
            document, position = decoder.raw_decode(text, position)
        except ValueError:  # the end, or a document still being written
            return found
        found.append(document)


def test_pod_watch_prints_a_stable_pod_once(manifest: str) -> None:
    """A single pod's report holds volatile facts (when it was taken, CPU time, memory): they
    alone are no change. A container removed is."""
    with kube_play(manifest):
        watcher = Watcher("pod", POD, "-w", "-o", "json")
        try:
            watcher.wait_for(lambda: len(documents(watcher.out)) == 1, "report")
            time.sleep(6)  # three looks at the node
            (first,) = documents(watcher.out)
            assert [c["name"] for c in first["containers"]] == ["app", "sidecar"]
            podman("rm", "--force", "--time", "0", f"{POD}-sidecar")

            def app_alone() -> bool:
                return any(
                    [c["name"] for c in report["containers"]] == ["app"]
                    for report in documents(watcher.out)
                )

            watcher.wait_for(app_alone, "a report without the sidecar")
            assert all(report["kind"] == "PodReport" for report in documents(watcher.out))
            assert watcher.stop(signal.SIGINT) == 0
        finally:
            watcher.kill()


def test_pod_watch_wide_ignores_a_busy_container_s_cpu_time() -> None:
    """`-o wide` prints each container's CPU time, memory and age: a container that spins
    changes them every look, and that alone is no change to print."""
    busy = yaml.safe_load(pod_yaml(POD, {"spin": ["sh", "-c", "while :; do :; done"]}))
    with kube_play(yaml.safe_dump(busy)):
        watcher = Watcher("pod", POD, "-w", "-o", "wide")
        try:
            watcher.wait_for(lambda: any("Processes:" in line for line in watcher.out), "report")
            time.sleep(7)
            assert sum(line.startswith("Pod:") for line in watcher.out) == 1
            assert watcher.stop(signal.SIGINT) == 0
        finally:
            watcher.kill()


def test_pod_watch_outlives_the_pod(manifest: str) -> None:
    """The pod deleted: said once on stderr, the watch goes on; the pod made again (as a
    StatefulSet would): its new report is printed."""
    watcher: Watcher | None = None
    try:
        with kube_play(manifest) as first:
            watcher = Watcher("pod", POD, "-w", "-o", "json")
            watcher.wait_for(lambda: len(documents(watcher.out)) == 1, "report")
        assert watcher is not None  # kube_play has removed the pod
        watcher.wait_for(lambda: any("not found" in line for line in watcher.err), "error")
        time.sleep(4)
        assert sum("not found" in line for line in watcher.err) == 1
        with kube_play(manifest) as second:
            assert second["Id"] != first["Id"]
            watcher.wait_for(lambda: len(documents(watcher.out)) == 2, "the new pod's report")
            assert documents(watcher.out)[1]["pod"]["uid"] == second["Id"]
            assert watcher.stop(signal.SIGINT) == 0
    finally:
        if watcher is not None:
            watcher.kill()


def test_watch_ends_quietly_when_its_reader_goes(manifest: str) -> None:
    """`nsinspect pods -w | head -1`: the reader closes the pipe; the watch ends, no traceback.
    Its own pod gives the watch a line to print (on a node without pods it prints nothing on
    stdout, and head would wait for ever)."""
    with kube_play(manifest):
        result = subprocess.run(
            f"nsinspect --local pods -A -w -l {SELECTOR} | head -1",
            shell=True,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    assert result.returncode == 0
    assert result.stdout.split()[:2] == ["NAMESPACE", "NAME"]  # the table's header: head's line
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


@pytest.fixture(autouse=True)
def no_leftover() -> Iterator[None]:
    yield
    podman("pod", "rm", "--force", "--time", "0", POD, check=False)
