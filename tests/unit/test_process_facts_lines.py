"""The lines `pod -o wide` and `pid` print for the process facts (cli/process_facts.py): the
table escapes the node's text itself; the one line of `pid` goes through echo_lines, which does."""

from __future__ import annotations

import msgspec

from nsinspect.agent.model import Evidence, HostReferenceKind, Role, Runtime, SandboxProcess
from nsinspect.agent.report import (
    ContainerReport,
    HostReport,
    PodIdentity,
    PodReport,
    ProcessFacts,
    ProcessReport,
    SandboxReport,
)
from nsinspect.cli.process_facts import (
    age,
    binary_size,
    process_fact_lines,
    process_report_fact_lines,
)

NOW = 1_800_000_000.0
FACTS = ProcessFacts(
    user="www\x1b[31m", uid=33, threads=4, rss_bytes=5 * 1024**2, cpu_seconds=1.5,
    started_at=NOW - 3 * 3600 - 5,
)  # fmt: skip
HOST = HostReport(kind=HostReferenceKind.PID1, pid=1, namespaces={}, note="")


def pod_report(*containers: ContainerReport) -> PodReport:
    return PodReport(
        node="n",
        taken_at=NOW,
        pod=PodIdentity(namespace="", name="p", uid="", runtime=Runtime.NONE,
                        evidence=Evidence.NAMESPACES),
        sandbox=SandboxReport(id="", pid=1, process=SandboxProcess.PRESENT, comm="pause",
                              start_time=1, namespaces={}, pins={}),
        containers=list(containers),
        requested={},
        intent=None,
        host=HOST,
        findings=[],
        errors=[],
    )  # fmt: skip


def container(name: str, pid: int | None, facts: ProcessFacts | None = None) -> ContainerReport:
    report = ContainerReport(name=name, id="", pid=pid, pids=[], role=Role.APP, namespaces={})
    return report if facts is None else msgspec.structs.replace(report, process=facts)


def test_a_pod_gets_a_table_of_its_containers_processes_escaped() -> None:
    lines = process_fact_lines(
        pod_report(container("web", 42, FACTS), container("gone", None)), NOW
    )
    assert lines[:2] == ["", "Processes:"]
    header, web, gone = lines[2:]
    assert header.split() == [
        "CONTAINER", "PID", "USER", "UID", "THREADS", "RSS", "CPU", "STARTED",
    ]  # fmt: skip
    assert web.split() == [
        "web", "42", "www\\x1b[31m", "33", "4", "5.0Mi", "1.50s", "2027-01-15T04:59:55Z",
        "(3h", "ago)",
    ]  # fmt: skip
    assert gone.split() == ["gone", "-", "-", "-", "-", "-", "-", "-"]
    assert "\x1b" not in "".join(lines)


def test_a_pod_without_facts_gets_no_lines() -> None:
    assert process_fact_lines(pod_report(container("web", 42)), NOW) == []


def test_a_process_gets_one_line_or_says_why_not() -> None:
    report = ProcessReport(
        node="n", pid=7, ppid=1, comm="x", start_time=1, cgroup=[], member_of=None,
        namespaces={}, host=HOST, errors=[],
    )  # fmt: skip
    assert process_report_fact_lines(report, NOW)[0].startswith("Process: (not read")
    line = process_report_fact_lines(msgspec.structs.replace(report, process=FACTS), NOW)[0]
    assert line == (
        "Process: user www\x1b[31m (uid 33), 4 threads, RSS 5.0Mi, CPU 1.50s, "
        "started 2027-01-15T04:59:55Z (3h ago)"
    )
    one = msgspec.structs.replace(FACTS, threads=1)
    line = process_report_fact_lines(msgspec.structs.replace(report, process=one), NOW)[0]
    assert ", 1 thread, " in line


def test_sizes_and_ages_read_as_kubectl_writes_them() -> None:
    assert [binary_size(n) for n in (512, 2048, 3 * 1024**2 // 2, 5 * 1024**3)] == [
        "512B", "2Ki", "1.5Mi", "5.0Gi",
    ]  # fmt: skip
    assert [age(s) for s in (-3, 59, 61, 7200, 3 * 86400)] == ["0s", "59s", "1m", "2h", "3d"]
