"""Fake proc trees on disk: `<root>/<pid>/ns/net` is a symlink to `net:[N]`, as in /proc."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from nsinspect.agent.model import ALL_NS_TYPES

# A node's initial namespaces, as in a real /proc.
HOST_NS = {
    "net": 4026531840,
    "ipc": 4026531839,
    "uts": 4026531838,
    "pid": 4026531836,
    "mnt": 4026531841,
    "user": 4026531837,
    "cgroup": 4026531835,
    "time": 4026531834,
}


def stat_line(
    pid: int, comm: str, state: str, ppid: int, *, start_time: int, flags: int = 0
) -> str:
    # Fields 3..22 of proc(5): state ppid pgrp session tty_nr tpgid flags(9) ... starttime(22).
    fields = [state, str(ppid), "0", "0", "0", "0", str(flags)] + ["0"] * 12 + [str(start_time)]
    assert len(fields) == 20
    return f"{pid} ({comm}) {' '.join(fields)} 0 0 0\n"


class FakeProc:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "self").mkdir(exist_ok=True)
        self._link_ns(root / "self", HOST_NS | {"pid_for_children": HOST_NS["pid"]})

    @staticmethod
    def _link_ns(base: Path, namespaces: Mapping[str, int]) -> None:
        ns_dir = base / "ns"
        ns_dir.mkdir(parents=True, exist_ok=True)
        for ns_type, inode in namespaces.items():
            link = ns_dir / ns_type
            if link.is_symlink() or link.exists():
                link.unlink()
            kind = ns_type.removesuffix("_for_children")
            link.symlink_to(f"{kind}:[{inode}]")

    def add(
        self,
        pid: int,
        comm: str = "sh",
        *,
        ppid: int = 1,
        start_time: int = 100,
        namespaces: Mapping[str, int] | None = None,
        cgroup: str | Iterable[str] = "0::/",
        state: str = "S",
        flags: int = 0,
        unreadable: Iterable[str] = (),
    ) -> Path:
        """A process; `unreadable` types get a non-link file, which readlink(2) refuses (EINVAL)."""
        base = self.root / str(pid)
        base.mkdir(parents=True, exist_ok=True)
        (base / "stat").write_text(
            stat_line(pid, comm, state, ppid, start_time=start_time, flags=flags)
        )
        lines = [cgroup] if isinstance(cgroup, str) else list(cgroup)
        (base / "cgroup").write_text("".join(f"{line}\n" for line in lines))
        chosen = dict(HOST_NS if namespaces is None else HOST_NS | dict(namespaces))
        chosen.setdefault("pid_for_children", chosen["pid"])
        self._link_ns(base, {t: i for t, i in chosen.items() if t in ALL_NS_TYPES})
        for ns_type in unreadable:
            link = base / "ns" / ns_type
            link.unlink()
            link.write_text("not a link")
        return base

    def executable(self, pid: int, name: str) -> Path:
        """`<pid>/exe` as a link to a real 0755 file called `name`, owned by whoever runs the
        test (root in CI): what makes a runtime a runtime, not its comm."""
        binary = self.root.parent / f"{self.root.name}-bin" / str(pid) / name
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.touch()
        binary.chmod(0o755)
        (self.root / str(pid) / "exe").symlink_to(binary)
        return binary

    def remove(self, pid: int) -> None:
        base = self.root / str(pid)
        for path in sorted(base.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
        base.rmdir()

    def set_mountinfo(self, pid: int, lines: Iterable[str]) -> None:
        (self.root / str(pid) / "mountinfo").write_text("".join(f"{line}\n" for line in lines))


def nsfs_mount_line(mount_id: int, ns_type: str, inode: int, path: str) -> str:
    escaped = path.replace(" ", "\\040")
    return f"{mount_id} 25 0:4 {ns_type}:[{inode}] {escaped} rw shared:2 - nsfs nsfs rw"
