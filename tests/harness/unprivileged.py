"""Run the real `nsinspect` entry point without privilege: uid 0 with no capabilities, or uid
65534 (nobody) with none.

The second is the hard one: the venv's python is a symlink into /root/.pyenv, and /root is 0700;
CI's clone may lie under a directory nobody cannot traverse too. Nothing on disk is loosened for
it. The command runs in a private mount namespace (`unshare --mount --propagation private`) in
which each untraversable ancestor of what the interpreter needs (sys.base_prefix, the venv, the
repository the strict editable install links into) is covered by a tmpfs of mode 0755, and the
needed directories are bind-mounted back into it read-only; only then does setpriv drop to
nobody. The mounts vanish with the namespace when the command exits; the node's mount table is
never touched (the propagation is private). The scan still sees every process: only the mount
namespace is new, and the node's pins are copied into it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

NOBODY = 65534
REPO = Path(__file__).resolve().parents[2]


def _traversable_by(path: Path, uid: int) -> bool:
    """Whether `uid` (without capabilities, in no group that matters) may search `path`."""
    info = path.stat()
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IXUSR)
    return bool(info.st_mode & stat.S_IXOTH)


def needed_directories() -> list[Path]:
    """What the interpreter and the package need to be reachable, real paths."""
    needed = {Path(sys.base_prefix), Path(sys.prefix), REPO}
    return sorted({p.resolve() for p in needed})


def blocked_ancestor(path: Path, uid: int) -> Path | None:
    """The topmost directory on the way to `path` that `uid` cannot search."""
    for ancestor in [*reversed(path.parents), path]:
        if not _traversable_by(ancestor, uid):
            return ancestor
    return None


def mount_plan(uid: int, needed: Sequence[Path] | None = None) -> dict[Path, list[Path]]:
    """Untraversable ancestor -> the needed directories below it (to bind back)."""
    found = {}
    for directory in needed if needed is not None else needed_directories():
        blocked = blocked_ancestor(directory, uid)
        if blocked == directory:
            raise PermissionError(f"{directory} itself is not searchable by uid {uid}")
        if blocked is not None:
            found[directory] = blocked
    plan: dict[Path, list[Path]] = {}
    for directory, blocked in sorted(found.items()):
        # A blocked ancestor below another one is covered by the upper one's tmpfs already.
        upper = next((b for b in plan if b in blocked.parents), blocked)
        plan.setdefault(upper, []).append(directory)
    return plan


def _shell_script(plan: Mapping[Path, list[Path]], stage: Path, command: Sequence[str]) -> str:
    lines = ["set -e"]
    index = 0
    for blocked, directories in plan.items():
        staged = []
        for directory in directories:
            target = stage / str(index)
            index += 1
            lines += [f"mkdir -p {target}", f"mount --bind {directory} {target}"]
            staged.append((target, directory))
        lines.append(f"mount -t tmpfs -o mode=0755,size=1m nsinspect-unprivileged {blocked}")
        for target, directory in staged:
            lines += [
                f"mkdir -p {directory}",
                f"mount --bind {target} {directory}",
                f"mount -o remount,bind,ro {directory}",
            ]
    lines.append("cd /")
    lines.append("exec " + " ".join(shlex.quote(part) for part in command))
    # Paths of this machine, quoted once: they hold no quote (checked by the caller).
    return "\n".join(lines)


def setpriv_command(argv: Sequence[str], uid: int, keep: Sequence[str] = ()) -> list[str]:
    """`argv` run as `uid` (its own gid, no supplementary groups) with no capabilities but
    those named in `keep` (setpriv's names: "setuid", "chown"; root gets them at exec)."""
    ids = [] if uid == 0 else [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    bounding = ",".join(["-all", *(f"+{name}" for name in keep)])
    return ["setpriv", *ids, "--inh-caps=-all", f"--bounding-set={bounding}", "--", *argv]


def run_unprivileged(
    argv: Sequence[str],
    uid: int,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` (its first word found on this PATH) as `uid` without capabilities, with the
    interpreter reachable as described above. Needs root."""
    program = shutil.which(argv[0])
    if program is None:
        raise FileNotFoundError(argv[0])
    command = setpriv_command([program, *argv[1:]], uid)
    environment = dict(env if env is not None else os.environ)
    plan = mount_plan(uid)
    if not plan:
        return subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=timeout, check=False
        )
    for path in [*plan, *(d for ds in plan.values() for d in ds)]:
        if any(c in str(path) for c in "'\"\\ \n$`"):
            raise ValueError(f"{path}: a path this harness will not quote into a script")
    with tempfile.TemporaryDirectory(prefix="nsi-unprivileged-") as stage:
        script = _shell_script(plan, Path(stage), command)
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
