"""The proc scan over fake proc trees: every way a process can fail to be read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.fakeproc import HOST_NS, FakeProc
from nsinspect.agent.discovery.mounts import parse_mountinfo
from nsinspect.agent.discovery.procfs import (
    PF_KTHREAD,
    ProcScanner,
    parse_boot_time,
    parse_cgroup,
    parse_ns_link,
    parse_stat,
)


def test_parse_stat_keeps_a_comm_with_spaces_and_parentheses() -> None:
    fields = " ".join(["S", "7", *["0"] * 4, "64", *["0"] * 12, "4242"])
    stat = parse_stat(f"31 (my (odd) comm) {fields} 0 0\n")
    assert (stat.pid, stat.comm, stat.ppid, stat.flags, stat.start_time) == (
        31,
        "my (odd) comm",
        7,
        64,
        4242,
    )


def test_parse_stat_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_stat("garbage")


def test_parse_cgroup_puts_unified_first_and_reports_malformed_lines() -> None:
    text = "12:memory:/a\n0::/b\nnot a cgroup line\n1:name=systemd:/a\n"
    paths, malformed = parse_cgroup(text)
    assert paths == ("/b", "/a")
    assert malformed == ["not a cgroup line"]


def test_parse_ns_link() -> None:
    assert parse_ns_link("net:[4026532177]") == 4026532177
    with pytest.raises(ValueError):
        parse_ns_link("net:4026532177]x")


def test_scan_reads_pid_comm_start_time_cgroup_and_every_namespace(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.add(40, "httpd", ppid=39, start_time=555, namespaces={"net": 4026532177}, cgroup="0::/x")
    scan = ProcScanner(str(tmp_path)).scan()
    process = scan.processes[40]
    assert (process.ppid, process.comm, process.start_time) == (39, "httpd", 555)
    assert process.cgroup_paths == ("/x",)
    assert process.namespaces["net"] == 4026532177
    assert process.namespaces["pid_for_children"] == HOST_NS["pid"]
    assert set(process.namespaces) >= {"net", "ipc", "uts", "pid", "mnt", "user", "cgroup", "time"}
    assert scan.errors == []


def test_unreadable_link_is_unknown_with_reason_and_a_scan_error(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.add(50, unreadable=["user"])
    scan = ProcScanner(str(tmp_path)).scan()
    assert scan.processes[50].namespaces["user"] is None
    assert scan.processes[50].ns_errors["user"] == "EINVAL"
    assert [(e.stage, e.pid, e.reason) for e in scan.errors] == [("ns", 50, "EINVAL")]


def test_vanished_process_is_an_error_not_an_exception(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.add(60)
    scanner = ProcScanner(str(tmp_path))
    listed = [*scanner.pids(), 61]  # 61 was listed, then exited before its stat was read
    scanner.pids = lambda: listed  # type: ignore[method-assign]
    scan = scanner.scan()
    assert 60 in scan.processes and 61 not in scan.processes
    assert [(e.stage, e.pid, e.reason) for e in scan.errors] == [("stat", 61, "vanished")]


def test_zombie_and_kernel_thread(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.add(70, "defunct", state="Z")
    proc.add(71, "kworker/0:1", ppid=2, flags=PF_KTHREAD)
    scan = ProcScanner(str(tmp_path)).scan()
    assert 70 not in scan.processes and 71 not in scan.processes
    # A zombie has left its namespaces: counted, never an error repeated every scan.
    assert scan.errors == [] and scan.zombies == 1


def test_malformed_cgroup_line_is_recorded_and_the_rest_is_kept(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.add(80, cgroup=["0::/kept", "bogus"])
    scan = ProcScanner(str(tmp_path)).scan()
    assert scan.processes[80].cgroup_paths == ("/kept",)
    assert [(e.stage, e.pid) for e in scan.errors] == [("cgroup", 80)]


def test_malformed_stat_is_recorded(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    (proc.add(90) / "stat").write_text("90 (x")
    scan = ProcScanner(str(tmp_path)).scan()
    assert 90 not in scan.processes
    assert [(e.stage, e.reason) for e in scan.errors] == [("stat", "malformed stat")]


def test_cgroup_is_reread_when_the_start_time_changes(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.add(100, start_time=1000, cgroup="0::/first")
    scanner = ProcScanner(str(tmp_path))
    assert scanner.scan().processes[100].cgroup_paths == ("/first",)

    # Same pid, same start time: the cgroup cannot have changed, so it is not read again.
    (tmp_path / "100" / "cgroup").write_text("0::/ignored\n")
    assert scanner.scan().processes[100].cgroup_paths == ("/first",)

    # The pid was reused by a new process: a new start time, and its own cgroup.
    proc.add(100, start_time=2000, cgroup="0::/second")
    rescanned = scanner.scan().processes[100]
    assert (rescanned.start_time, rescanned.cgroup_paths) == (2000, ("/second",))


def test_namespace_links_are_reread_every_scan(tmp_path: Path) -> None:
    """setns(2) can move a process without changing its pid or start time."""
    proc = FakeProc(tmp_path)
    proc.add(110, namespaces={"net": 4026532300})
    scanner = ProcScanner(str(tmp_path))
    assert scanner.scan().processes[110].namespaces["net"] == 4026532300
    proc.add(110, namespaces={"net": 4026532301})
    assert scanner.scan().processes[110].namespaces["net"] == 4026532301


def test_missing_proc_root_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        ProcScanner(str(tmp_path / "absent")).scan()


def test_a_process_that_reads_as_before_is_the_same_object_and_a_changed_one_is_new(
    tmp_path: Path,
) -> None:
    proc = FakeProc(tmp_path)
    proc.add(120, "runc:[2:INIT]", start_time=700)
    scanner = ProcScanner(str(tmp_path))
    first = scanner.scan().processes[120]
    assert scanner.scan().processes[120] is first

    # exec(2) changes the comm, not the pid, start time or namespaces.
    proc.add(120, "nginx", start_time=700)
    execed = scanner.scan().processes[120]
    assert execed is not first and execed.comm == "nginx"

    # Reparented: its parent changes.
    proc.add(120, "nginx", ppid=99, start_time=700)
    assert scanner.scan().processes[120].ppid == 99


def test_an_unreadable_link_is_reported_again_on_every_scan(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.add(130, unreadable=["user"])
    scanner = ProcScanner(str(tmp_path))
    for _ in range(2):
        scan = scanner.scan()
        assert [(e.stage, e.pid, e.reason) for e in scan.errors] == [("ns", 130, "EINVAL")]


def test_many_malformed_cgroup_lines_are_one_error(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.add(140, cgroup=["0::/kept", *[f"bogus {n}" for n in range(500)]])
    scan = ProcScanner(str(tmp_path)).scan()
    assert scan.processes[140].cgroup_paths == ("/kept",)
    assert [(e.stage, e.reason) for e in scan.errors] == [
        ("cgroup", "malformed line 'bogus 0' and 499 more")
    ]


@pytest.mark.timeout(5)
def test_a_fifo_or_an_oversized_stat_is_one_error_and_never_blocks(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    (proc.add(150) / "stat").unlink()
    os.mkfifo(tmp_path / "150" / "stat")
    (proc.add(151) / "stat").write_text("151 (x) " + "1 " * 4000)
    scan = ProcScanner(str(tmp_path)).scan()
    assert sorted((e.pid, e.reason) for e in scan.errors) == [
        (150, "not a regular file"),
        (151, "larger than 4 KiB"),
    ]


def test_parse_stat_raises_only_valueerror() -> None:
    for text in ("", "1 (x)", "1 (x) S", "x) (y", "(" * 5, "1 (x) " + "y " * 30):
        with pytest.raises(ValueError):
            parse_stat(text)


def test_boot_time() -> None:
    assert parse_boot_time("cpu 1 2 3\nbtime 1700000000\n") == 1700000000.0
    assert parse_boot_time("btime\n") is None
    assert parse_boot_time("btime nan\n") is None
    assert parse_boot_time("btime " + "9" * 400 + "\n") is None


def test_mountinfo_pins_escaped_and_undecodable_paths() -> None:
    data = (
        b"36 35 98:0 / /mnt rw - ext4 /dev/root rw\n"
        b"600 29 0:4 net:[4026532289] /run/netns/a\\040b rw shared:1 - nsfs nsfs rw\n"
        b"601 29 0:4 uts:[4026532290] /run/utsns/\xff\\134x rw - nsfs nsfs rw\n"
        b"602 29 0:4 garbage - nsfs nsfs rw\n"
    )
    pins, malformed = parse_mountinfo(data)
    assert [(p.ns_type, p.inode, p.path) for p in pins] == [
        ("net", 4026532289, "/run/netns/a b"),
        ("uts", 4026532290, "/run/utsns/\ufffd\\x"),
    ]
    assert malformed == 1
