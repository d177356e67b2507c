"""The real agent against the real seed pod: its API equals the CLI, bad requests get clean JSON
errors, the agent stays up, and SIGTERM stops it within a second."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.agent_process import AgentProcess, start_agent
from harness.podman import SEED_CONTAINERS, kube_play, pod_yaml

pytestmark = [pytest.mark.root, pytest.mark.podman]

VOLATILE = ("taken_at", "errors")  # when the snapshot was taken; pid 1's unreadable links


@pytest.fixture(scope="module")
def seed() -> Iterator[dict[str, Any]]:
    with kube_play(pod_yaml("my-nginx-pod", SEED_CONTAINERS)) as inspected:
        yield inspected


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, seed: dict[str, Any]) -> Iterator[AgentProcess]:
    running = start_agent(tmp_path_factory.mktemp("agent"), interval=1.0)
    running.wait_ready()
    yield running
    running.stop()


# What the process table says changes between two reads of it: CPU time and resident memory.
VOLATILE_FACTS = ("cpu_seconds", "rss_bytes")


def stable(document: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in document.items() if key not in VOLATILE}
    for container in kept.get("containers", []):
        facts = container.get("process")
        if facts is not None:
            container["process"] = {k: v for k, v in facts.items() if k not in VOLATILE_FACTS}
    return kept


def test_pod_api_document_equals_the_cli_json(agent: AgentProcess) -> None:
    from_api = agent.get("/api/v1/pods/-/my-nginx-pod")
    assert from_api.status == 200 and from_api.content_type == "application/json"
    cli = subprocess.run(
        # -n "": the podman pod, not the CRI test node's my-nginx-pod in `default`.
        ["nsinspect", "pod", "my-nginx-pod", "-n", "", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert stable(from_api.json()) == stable(json.loads(cli.stdout))


def test_lists_and_health(agent: AgentProcess, seed: dict[str, Any]) -> None:
    pods = agent.get("/api/v1/pods").json()
    assert pods["kind"] == "PodList"
    assert seed["Id"] in [item["pod"]["uid"] for item in pods["items"]]
    assert agent.get("/api/v1/pods?namespace=kube-system").json()["items"] == []
    namespaces = agent.get("/api/v1/namespaces").json()
    assert namespaces["kind"] == "NamespaceList"
    sandbox_net = next(i for i in pods["items"] if i["pod"]["uid"] == seed["Id"])["sandbox"][
        "namespaces"
    ]["net"]
    entry = next(i for i in namespaces["items"] if i["type"] == "net" and i["inode"] == sandbox_net)
    assert {u["container"] for u in entry["users"]} == {"", *SEED_CONTAINERS}
    assert agent.get("/api/v1/findings").json()["kind"] == "FindingList"
    assert agent.get("/healthz").json() == {"status": "ok"}
    ready = agent.get("/readyz").json()
    assert ready["ready"] is True and ready["kube_api"] == {"state": "disabled"}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/nope", 404),
        ("/api/v1/pods/-/no-such-pod", 404),
        ("/api/v1/pods/nsi-none/my-nginx-pod", 404),  # podman pods have no namespace
        ("/api/v1/pods/-/my-nginx-pod/extra", 404),
        ("/api/v2/pods", 404),
        ("/api/v1/pods/%2e%2e/%2e%2e/etc", 400),
        ("/api/v1/pods/a%2Fb/c", 400),
        ("/api/v1/pods/-/my-nginx-pod%2F..%2F..", 400),
        ("/api/v1/pods?verbose=1", 400),
        ("/api/v1/pods?namespace=a&namespace=b", 400),
        ("/api/v1/pods?" + "x" * 3000, 414),
        ("/metrics?" + "a=1&" * 1000, 414),
        # A request line past the header cap (8 KiB) is refused before the path is looked at.
        ("/metrics?" + "a=1&" * 20000, 431),
    ],
)
def test_bad_requests_get_json_errors_and_the_agent_stays_up(
    agent: AgentProcess, path: str, status: int
) -> None:
    reply = agent.get(path)
    assert reply.status == status
    assert reply.content_type == "application/json"
    document = reply.json()
    assert (document["kind"], document["code"]) == ("Status", status)
    assert agent.get("/healthz").status == 200


def test_methods_other_than_get_are_refused(agent: AgentProcess) -> None:
    reply = agent.get("/api/v1/pods", method="POST")
    assert reply.status == 405 and reply.json()["code"] == 405


def test_garbage_on_the_socket_gets_a_json_error(agent: AgentProcess) -> None:
    with socket.create_connection(("127.0.0.1", agent.port), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        chunks = []
        while chunk := raw.recv(4096):  # the server closes after its answer
            chunks.append(chunk)
        answer = b"".join(chunks).decode(errors="replace")
    status = json.loads(answer[answer.index("{") :])
    assert (status["kind"], status["code"]) == ("Status", 400)
    assert agent.get("/healthz").status == 200


def test_logs_are_json_lines_and_sigterm_stops_within_a_second(tmp_path: Path) -> None:
    agent = start_agent(tmp_path, interval=1.0)
    agent.wait_ready()
    agent.get("/healthz")
    server = agent.server_pid()
    took = agent.stop()
    assert agent.process.returncode == 0
    assert took < 1.0, f"took {took:.2f} s"
    lines = [line for line in agent.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["message"] == "stopping on SIGTERM" for r in records)
    # Both processes say they stopped, and the server is gone with the scanner.
    assert {"scanner stopped", "server stopped"} <= {r["message"] for r in records}
    assert not Path(f"/proc/{server}").exists()


def test_api_never_shows_command_lines_or_environment(agent: AgentProcess) -> None:
    secret = "NSI_TOPSECRET_VALUE_12345"
    holder = subprocess.Popen(["sleep", "300", secret], env={"PASSWORD": secret})
    try:
        agent.wait_for_scan_after(__import__("time").time())
        for path in ("/api/v1/pods", "/api/v1/namespaces", "/api/v1/findings", "/metrics"):
            assert secret not in agent.get(path).body.decode(), path
    finally:
        holder.kill()
        holder.wait()
