"""The pure core called directly: pairing, findings and the report builders take values and
return values, with no scan, no files and no state between calls."""

from __future__ import annotations

import json

import pytest

from nsinspect.agent.model import (
    ContainerIdentity,
    Evidence,
    FoundBy,
    HostReference,
    HostReferenceKind,
    LocationKind,
    NamespaceMode,
    PinnedNamespace,
    PodRef,
    Process,
    Role,
    Runtime,
    RuntimeLocation,
    SandboxProcess,
    ScanError,
    ScanStage,
    Severity,
    Snapshot,
    Verdict,
)
from nsinspect.agent.pairing import PairingInput, compute_findings, pair
from nsinspect.agent.report import PodReport, build

HOST = {"net": 1, "ipc": 2, "uts": 3, "pid": 4, "mnt": 5, "user": 6, "cgroup": 7, "time": 8}
POD_NS = {"net": 11, "ipc": 12, "uts": 13}
SANDBOX_ID, APP_ID, SIDECAR_ID = "s" * 64, "a" * 64, "c" * 64


def process(number: int, comm: str, start: int, **namespaces: int) -> Process:
    return Process(number, 1, comm, start, (), HOST | namespaces)


def identity(container_id: str, role: Role, name: str = "", **extra: object) -> ContainerIdentity:
    fields: dict[str, object] = {
        "runtime": Runtime.CONTAINERD,
        "id": container_id,
        "role": role,
        "sandbox_id": SANDBOX_ID,
        "name": name,
        "pod_name": "web",
        "pod_namespace": "shop",
        "pod_uid": "uid-1",
        "evidence": Evidence.CRI,
    }
    return ContainerIdentity(**(fields | extra))  # type: ignore[arg-type]


def given(sidecar_net: int = 11, pins: tuple[PinnedNamespace, ...] = ()) -> PairingInput:
    processes = {
        10: process(10, "pause", 1, **POD_NS, pid=14, mnt=15),
        20: process(20, "nginx", 2, **POD_NS, pid=24, mnt=25),
        30: process(30, "tail", 3, **(POD_NS | {"net": sidecar_net}), pid=34, mnt=35),
        40: process(40, "sshd", 4),
    }
    return PairingInput(
        processes=processes,
        memberships={10: SANDBOX_ID, 20: APP_ID, 30: SIDECAR_ID},
        identities={
            SANDBOX_ID: identity(SANDBOX_ID, Role.SANDBOX, requested={"net": NamespaceMode.POD}),
            APP_ID: identity(APP_ID, Role.APP, "nginx"),
            SIDECAR_ID: identity(SIDECAR_ID, Role.APP, "sidecar"),
        },
        host=HostReference(HostReferenceKind.PID1, 1, HOST),
        pins=pins,
    )


def snapshot_of(pairing: PairingInput) -> Snapshot:
    result = pair(pairing)
    return Snapshot(
        node="n1",
        taken_at=1700000000.5,
        duration_seconds=0.01,
        host=pairing.host,
        processes=pairing.processes,
        pods=result.pods,
        pinned=tuple(pairing.pins),
        orphans=result.orphans,
        findings=compute_findings(result.pods, result.orphans),
        errors=(ScanError(ScanStage.NS, "EACCES", 30, "/proc/30/ns/user"),),
        runtimes=(
            RuntimeLocation(
                Runtime.CONTAINERD,
                LocationKind.CRI_SOCKET,
                "/run/c.sock",
                FoundBy.PROCESS,
                pid=7,
                exe="containerd",
                argument="--address",
                readable=True,
            ),
        ),
    )


def test_pair_judges_every_namespace_of_every_container() -> None:
    (pod,) = pair(given()).pods
    assert (pod.ref, pod.runtime, pod.evidence) == (PodRef("shop", "web"), "containerd", "cri")
    assert (pod.sandbox.pid, pod.sandbox.process) == (10, SandboxProcess.PRESENT)
    nginx, sidecar = pod.containers
    assert [c.name for c in pod.containers] == ["nginx", "sidecar"]
    for container in (nginx, sidecar):
        verdicts = {t: v.verdict for t, v in container.namespaces.items()}
        assert verdicts["net"] == verdicts["ipc"] == verdicts["uts"] == Verdict.POD
        assert verdicts["pid"] == verdicts["mnt"] == Verdict.PRIVATE
        assert verdicts["user"] == verdicts["cgroup"] == verdicts["time"] == Verdict.HOST
    assert pod.mismatches == ()
    assert compute_findings(pair(given()).pods, ()) == ()


def test_pair_is_a_function_of_its_input() -> None:
    assert pair(given()) == pair(given())
    # The host process forms no pod: one process alone in the node's namespaces.
    assert [pod.name for pod in pair(given()).pods] == ["web"]


def test_a_container_outside_the_pods_network_is_concluded_once_in_findings() -> None:
    (pod,) = pair(given(sidecar_net=99)).pods
    net = pod.containers[1].namespaces["net"]
    assert (net.verdict, net.shared_with_sandbox, net.inode) == (Verdict.PRIVATE, False, 99)
    # The sandbox asked for the pod's network: a mismatch, said as ContainerNotInPodNetwork.
    assert [(m.container, m.expected, m.actual) for m in pod.mismatches] == [
        ("sidecar", NamespaceMode.POD, NamespaceMode.CONTAINER)
    ]
    findings = compute_findings((pod,), ())
    assert [(f.code, f.severity, f.pod, f.container) for f in findings] == [
        ("ContainerNotInPodNetwork", Severity.CRITICAL, PodRef("shop", "web"), "sidecar")
    ]


def test_an_unused_pin_is_an_orphan_and_an_info_finding() -> None:
    pin = PinnedNamespace("net", 77, "/run/netns/cni-leaked")
    result = pair(given(pins=(pin,)))
    assert result.orphans == (pin,)
    (finding,) = compute_findings(result.pods, result.orphans)
    assert (finding.code, finding.severity, finding.pod) == ("OrphanNamespace", "info", None)


def test_the_pod_report_is_built_from_the_snapshot_alone() -> None:
    snapshot = snapshot_of(given(sidecar_net=99))
    report = build.pod_report(snapshot.pods[0], snapshot)
    document = report.to_json()
    assert list(document)[:4] == ["apiVersion", "kind", "node", "taken_at"]
    assert document["pod"] == {
        "namespace": "shop",
        "name": "web",
        "uid": "uid-1",
        "runtime": "containerd",
        "source": "cri",
    }
    sidecar = document["containers"][1]
    assert sidecar["namespaces"]["net"] == {
        "inode": 99,
        "verdict": "private",
        "shared_with_sandbox": False,
    }
    assert [f["code"] for f in document["findings"]] == ["ContainerNotInPodNetwork"]
    assert document["findings"][0]["pod"] == "shop/web"
    assert document["errors"] == [
        {"stage": "ns", "reason": "EACCES", "pid": 30, "path": "/proc/30/ns/user"}
    ]
    assert "network" not in document  # details only when collected


@pytest.mark.parametrize(
    "make",
    [
        lambda s: build.pod_report(s.pods[0], s),
        lambda s: build.pod_list(s.pods, s),
        build.finding_list,
        build.namespace_list,
        lambda s: build.namespace_report("net", 11, s),
        lambda s: build.process_report(s.processes[30], s),
    ],
    ids=["PodReport", "PodList", "FindingList", "NamespaceList", "NamespaceReport", "Process"],
)
def test_every_document_round_trips_through_json(make: object) -> None:
    snapshot = snapshot_of(given(sidecar_net=99, pins=(PinnedNamespace("net", 77, "/x"),)))
    document = make(snapshot)  # type: ignore[operator]
    wire = json.loads(json.dumps(document.to_json()))
    assert type(document).from_json(wire) == document
    assert type(document).from_json(wire).to_json() == wire


def test_a_malformed_document_says_where() -> None:
    snapshot = snapshot_of(given())
    wire = build.pod_report(snapshot.pods[0], snapshot).to_json()
    wire["containers"][0]["namespaces"]["net"]["verdict"] = "shared"
    with pytest.raises(ValueError, match=r"containers\[0\]\.namespaces.*verdict"):
        PodReport.from_json(wire)
    with pytest.raises(ValueError, match="expected a PodReport document, got 'PodList'"):
        PodReport.from_json(build.pod_list(snapshot.pods, snapshot).to_json())
