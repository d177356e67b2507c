"""Never a clean wrong answer: no finding from data that could not be read, what was not seen said
once per cause, doctor's exit codes, and a kubeconfig that cannot be used counting as none."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest

from harness.fakenode import NET_A, Node
from harness.fakeproc import HOST_NS, nsfs_mount_line
from nsinspect.agent.model import (
    HostReference,
    HostReferenceKind,
    PinnedNamespace,
    PodRef,
    Process,
    ScanError,
    ScanStage,
    Verdict,
)
from nsinspect.agent.pairing.findings import compute_findings, missing_unchecked
from nsinspect.agent.pairing.orphans import find_orphans
from nsinspect.agent.pairing.unread import Unread, unread_from
from nsinspect.agent.pairing.verdicts import judge
from nsinspect.agent.report import FindingList, FindingReport, Severity
from nsinspect.agent.report.incomplete import Privileges, error_summary
from nsinspect.cli.doctor import exit_code
from nsinspect.cli.kubeconfig import KubeconfigSearch, find_kubeconfig
from nsinspect.cli.remote import kubeconfig_present

LEAKED = 4026532777
PIN = PinnedNamespace("net", LEAKED, "/run/netns/cni-leaked")
HOST = HostReference(HostReferenceKind.PID1, 1, dict(HOST_NS))


def process(pid: int, net: int | None = HOST_NS["net"], why: str = "EACCES") -> Process:
    errors = {} if net is not None else {"net": why}
    return Process(pid, 1, "sh", 10, (), {"net": net, "ipc": HOST_NS["ipc"]}, errors)


# -- the orphan rule -------------------------------------------------------------------------


def test_a_pin_is_an_orphan_only_when_every_link_of_its_type_was_read() -> None:
    readable = {1: process(1), 20: process(20)}
    assert find_orphans([PIN], readable, []) == ((PIN,), ())
    orphans, unchecked = find_orphans([PIN], readable | {30: process(30, None)}, [])
    assert orphans == ()
    assert unchecked == (
        ScanError(
            ScanStage.FINDINGS,
            "not checked for OrphanNamespace: the net links of 1 processes could not be read "
            "(EACCES)",
            path=PIN.path,
        ),
    )


def test_an_unreadable_link_of_another_type_does_not_stop_the_check() -> None:
    other_type = Process(30, 1, "sh", 10, (), {"net": HOST_NS["net"], "ipc": None}, {"ipc": "X"})
    assert find_orphans([PIN], {30: other_type}, []) == ((PIN,), ())


def test_pid_1_stands_for_the_node_and_does_not_stop_the_check() -> None:
    """pid 1's links are unreadable even to root on some VMs; kthreadd stands in for it."""
    assert find_orphans([PIN], {1: process(1, None), 20: process(20)}, []) == ((PIN,), ())


def test_an_unreadable_process_stops_the_check() -> None:
    orphans, unchecked = find_orphans([PIN], {20: process(20)}, [], Unread(processes=3))
    assert orphans == () and "3 processes could not be read" in unchecked[0].reason


def test_a_pin_in_use_by_a_readable_process_is_neither() -> None:
    assert find_orphans([PIN], {20: process(20, LEAKED), 30: process(30, None)}, []) == ((), ())


def test_on_a_fake_node_an_unreadable_link_keeps_a_leaked_pin_from_being_an_orphan(
    tmp_path: Path,
) -> None:
    node = Node(tmp_path)
    node.seed_pod()
    node.proc.set_mountinfo(1, [nsfs_mount_line(40, "net", LEAKED, "/run/netns/cni-leaked")])
    assert [f.code for f in node.snapshot().findings] == ["OrphanNamespace"]
    node.proc.add(400, "other", unreadable=("net",))
    snapshot = node.snapshot()
    assert snapshot.findings == () and snapshot.orphans == ()
    unchecked = [e for e in snapshot.errors if e.stage is ScanStage.FINDINGS]
    assert [e.path for e in unchecked] == ["/run/netns/cni-leaked"]
    assert "net links of 1 processes could not be read (EINVAL)" in unchecked[0].reason


# -- SandboxMissing ----------------------------------------------------------------------------


def test_sandbox_missing_is_not_concluded_while_something_that_could_hide_it_was_unread(
    tmp_path: Path,
) -> None:
    node = Node(tmp_path)
    node.seed_pod()
    node.proc.remove(300)  # the infra process
    pods = node.snapshot().pods
    assert [f.code for f in compute_findings(pods, ())] == ["SandboxMissing"]
    assert missing_unchecked(pods, Unread()) == ()
    for unread in (Unread(processes=1), Unread(cgroups=2), Unread(mount_tables=1),
                   Unread(fd_tables=4)):  # fmt: skip
        assert compute_findings(pods, (), unread) == ()
        (error,) = missing_unchecked(pods, unread)
        assert error.stage is ScanStage.FINDINGS and "my-nginx-pod" in error.reason


def test_an_unreadable_cgroup_file_on_a_fake_node_withholds_sandbox_missing(
    tmp_path: Path,
) -> None:
    node = Node(tmp_path)
    node.seed_pod()
    node.proc.remove(300)
    base = node.proc.add(400, "other")
    (base / "cgroup").unlink()
    (base / "cgroup").mkdir()  # read(2) refuses: EISDIR
    snapshot = node.snapshot()
    assert snapshot.findings == ()
    assert [e.reason.split(":")[0] for e in snapshot.errors if e.stage is ScanStage.FINDINGS] == [
        "not checked for SandboxMissing"
    ]


def test_unread_counts_each_pid_once_and_leaves_out_processes_that_exited() -> None:
    errors = [
        ScanError(ScanStage.CGROUP, "EACCES", 5),
        ScanError(ScanStage.CGROUP, "EACCES", 5),
        ScanError(ScanStage.STAT, "vanished", 6),
        ScanError(ScanStage.MOUNTS, "ENOENT", 7, "/proc/7/mountinfo"),
        ScanError(ScanStage.FDS, "EACCES", 8, "/proc/8/fd"),
        ScanError(ScanStage.NS, "EACCES", 9),  # what the links say is read from the processes
    ]
    assert unread_from(errors) == Unread(cgroups=1, fd_tables=1)


# -- verdicts without the node's namespace -----------------------------------------------------


def test_without_the_nodes_namespace_a_verdict_is_unknown_not_private() -> None:
    no_net = HostReference(HostReferenceKind.NONE, 0, {"net": None})
    verdict = judge(
        "net", 4026532990, "", sandbox={"net": NET_A}, host=no_net, owners={},
        own_pod=PodRef("", "p"),
    )  # fmt: skip
    assert verdict.verdict is Verdict.UNKNOWN and verdict.inode == 4026532990
    assert "node's namespace" in (verdict.reason or "")


# -- what was not seen, one entry per cause ----------------------------------------------------


def test_errors_are_summarised_once_per_cause_with_a_hint() -> None:
    errors = [ScanError(ScanStage.NS, "EACCES", pid, f"/proc/{pid}/ns/{t}") for pid in (5, 6, 7)
              for t in ("net", "ipc")]  # fmt: skip
    errors += [
        ScanError(ScanStage.STAT, "vanished", 8),
        ScanError(ScanStage.RUNTIME, "EACCES", path="/var/lib/containers/a"),
        ScanError(ScanStage.RUNTIME, "EACCES", path="/var/lib/containers/b"),
        ScanError(ScanStage.FINDINGS, "not checked for OrphanNamespace: why", path="/run/netns/a"),
        ScanError(ScanStage.FINDINGS, "not checked for OrphanNamespace: why", path="/run/netns/b"),
    ]
    summary = error_summary(errors, HOST, Privileges(root=False, ptrace=False))
    assert [(e.stage, e.reason, e.count) for e in summary] == [
        (ScanStage.NS, "EACCES", 3),
        (ScanStage.RUNTIME, "EACCES", 2),
        (ScanStage.FINDINGS, "not checked for OrphanNamespace", 2),
    ]
    ns, runtime, findings = (str(e.message) for e in summary)
    assert ns.startswith("the namespaces of 3 processes could not be read: EACCES")
    assert "CAP_SYS_PTRACE" in ns
    assert runtime.startswith("/var/lib/containers/a could not be read (and 1 more): EACCES")
    assert "(run as root)" in runtime
    assert findings == "2 pinned namespaces were not checked for OrphanNamespace: why"
    held = error_summary(errors, HOST, Privileges(root=True, ptrace=True))
    assert "CAP_SYS_PTRACE" not in str(held[0].message)


def test_one_of_a_kind_is_said_in_the_singular() -> None:
    errors = [
        ScanError(ScanStage.NS, "EACCES", 5, "/proc/5/ns/net"),
        ScanError(ScanStage.FINDINGS, "not checked for OrphanNamespace: why", path="/run/netns/a"),
    ]
    ns, findings = (str(e.message) for e in error_summary(errors, HOST, Privileges()))
    assert ns == "the namespaces of 1 process could not be read: EACCES"
    assert findings == "1 pinned namespace was not checked for OrphanNamespace: why"


def test_pid_1_behind_kthreadd_is_said_by_the_host_note_alone() -> None:
    errors = [ScanError(ScanStage.NS, "EACCES", 1, "/proc/1/ns/net")]
    kthreadd = HostReference(HostReferenceKind.KTHREADD, 2, dict(HOST_NS), note="pid 1 ...")
    assert error_summary(errors, kthreadd, Privileges()) == []
    assert len(error_summary(errors, HOST, Privileges())) == 1


def test_a_host_reference_of_the_scanners_own_is_said() -> None:
    own = HostReference(HostReferenceKind.SELF, 4242, dict(HOST_NS), note="pid 1's unreadable")
    (entry,) = error_summary([], own, Privileges())
    assert entry.stage is ScanStage.HOST and entry.reason == "self"
    assert str(entry.message) == (
        "the node's namespaces could not be read (pid 1's unreadable): 'host' verdicts and "
        "host-sharing findings hold only if nsinspect runs in the node's namespaces"
    )


# -- doctor's exit code ------------------------------------------------------------------------


def finding(severity: Severity) -> FindingReport:
    return FindingReport(
        code="X", severity=severity, message="", pod="", container="", ns_type="", evidence={}
    )


def test_doctor_exit_codes() -> None:
    unseen = error_summary([ScanError(ScanStage.CGROUP, "EACCES", 5)], HOST, Privileges())
    assert exit_code(FindingList(node="n", items=[])) == 0
    assert exit_code(FindingList(node="n", items=[finding(Severity.INFO)], errors=[])) == 0
    assert exit_code(FindingList(node="n", items=[], errors=unseen)) == 3
    assert exit_code(FindingList(node="", items=[], unreachable={"n2": "timed out"})) == 3
    warned = [finding(Severity.WARNING)]
    assert exit_code(FindingList(node="n", items=warned)) == 1
    assert exit_code(FindingList(node="n", items=warned, errors=unseen)) == 1  # problems win


# -- kubeconfig --------------------------------------------------------------------------------

KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x00\xff: [unclosed", "not YAML"),
        (b"- just\n- a list\n", "not a kubeconfig"),
        (b"plain words", "not a kubeconfig"),
    ],
)
def test_a_malformed_kubeconfig_is_passed_over_with_why(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "config"
    path.write_bytes(content)
    search = find_kubeconfig(str(path))
    assert search.usable == () and search.unusable == {str(path): why}
    assert str(path) in search.warning() and "local mode" in search.warning()


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert find_kubeconfig(str(fifo)).unusable == {str(fifo): "not a regular file"}


def test_kubeconfig_search_follows_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good, garbage = tmp_path / "good", tmp_path / "garbage"
    good.write_text(KUBECONFIG)
    garbage.write_text("{[")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "absent"), str(garbage)]))
    search = find_kubeconfig()
    assert search.usable == () and list(search.unusable) == [str(garbage)]
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(garbage), str(good)]))
    assert find_kubeconfig().usable == (str(good),)
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert find_kubeconfig() == KubeconfigSearch()  # no HOME/.kube/config: nothing to say
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    (tmp_path / "home" / ".kube" / "config").write_text(KUBECONFIG)
    assert find_kubeconfig().usable == (str(tmp_path / "home" / ".kube" / "config"),)


def test_an_unusable_kubeconfig_counts_as_none_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_text("{[")
    monkeypatch.setenv("KUBECONFIG", str(garbage))
    assert kubeconfig_present(None) is False
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and f"{garbage}: not YAML" in err


def test_an_unusable_kubeconfig_named_on_the_command_line_is_an_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_text("{[")
    with pytest.raises(click.BadParameter, match="not YAML"):
        kubeconfig_present(str(garbage))


def test_a_process_named_like_a_runtime_whose_mount_namespace_is_unread_hides_its_fds(
    tmp_path: Path,
) -> None:
    """Whether it is a runtime is told by its mount namespace and executable: neither read, its
    fds (a sandbox's pins among them) are unseen, so SandboxMissing is not concluded."""
    node = Node(tmp_path)
    node.seed_pod()
    node.proc.remove(300)
    node.proc.add(400, "conmon", unreadable=("mnt",))
    snapshot = node.snapshot()
    assert snapshot.findings == ()
    (fds,) = [e for e in snapshot.errors if e.stage is ScanStage.FDS]
    assert (fds.pid, fds.reason) == (400, "EINVAL")
    node.proc.remove(400)
    node.proc.add(400, "sh", unreadable=("mnt",))  # not named like one: no runtime, no fds
    assert [f.code for f in node.snapshot().findings] == ["SandboxMissing"]
