"""The server holds no privilege: it refuses to serve as root or with any effective capability,
forbids itself new privileges (no setuid binary or file capability can give it any), and dies
with the scanner that started it. Started as root (`--drop-to`), it binds its ports, then gives up
every capability (the bounding and ambient sets too), its groups and uid 0, before it reads a
byte from the network."""

from __future__ import annotations

import ctypes
import os

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4


class PrivilegeError(Exception):
    """The server must not run like this; the message says why."""


def effective_capabilities(status_path: str = "/proc/self/status") -> int:
    try:
        with open(status_path, encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError) as exc:
        raise PrivilegeError(f"cannot read the capabilities in {status_path}: {exc}") from exc
    raise PrivilegeError(f"{status_path} has no CapEff line")


def refuse_privilege() -> None:
    if os.geteuid() == 0:
        raise PrivilegeError(
            "the server must not run as root (uid 0): run it as an unprivileged user such as "
            "65534; `nsinspect agent` does that for you"
        )
    capabilities = effective_capabilities()
    if capabilities:
        raise PrivilegeError(
            f"the server must run with no capabilities, and has CapEff {capabilities:016x}: "
            "drop them (securityContext.capabilities.drop: [ALL])"
        )


def drop_to(uid: int, gid: int) -> None:
    """Become uid:gid with no supplementary group and no capability left in any set. The
    bounding set is per thread: call this before any other thread starts."""
    if os.geteuid() != 0:
        if (os.geteuid(), os.getegid()) == (uid, gid):
            return  # already that user: nothing to drop
        raise PrivilegeError(
            f"--drop-to {uid}:{gid} needs root to start; running as {os.geteuid()}"
        )
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as last:
            last_cap = int(last.read())
    except (OSError, ValueError) as exc:
        raise PrivilegeError(f"cannot read /proc/sys/kernel/cap_last_cap: {exc}") from exc
    for capability in range(last_cap + 1):
        _prctl(PR_CAPBSET_DROP, capability, "PR_CAPBSET_DROP")
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, "PR_CAP_AMBIENT")
    try:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # from uid 0 to none: the permitted and effective sets empty
    except OSError as exc:
        raise PrivilegeError(f"cannot become {uid}:{gid}: {exc.strerror}") from exc


def forbid_new_privileges() -> None:
    _prctl(PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")


def _prctl(option: int, value: int, name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise PrivilegeError(f"prctl({name}) failed: {os.strerror(errno)}")
