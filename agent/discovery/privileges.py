"""Which of the privileges the details need this process holds, and how to say what is missing.

Entering a namespace (setns(2)) needs CAP_SYS_ADMIN; opening another process's namespace files,
fd links and root needs CAP_SYS_PTRACE (ptrace read access). Checking first keeps the reason in
the report precise ("needs CAP_SYS_ADMIN") instead of a bare EPERM from a helper process.
"""

from __future__ import annotations

from ..model import errno_name

CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21
CAPABILITY_NAMES = {CAP_SYS_PTRACE: "CAP_SYS_PTRACE", CAP_SYS_ADMIN: "CAP_SYS_ADMIN"}


def effective_capabilities(status_path: str = "/proc/self/status") -> int:
    """The CapEff mask of this process (0 where it cannot be read)."""
    try:
        with open(status_path, encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def has_capability(capability: int) -> bool:
    return bool(effective_capabilities() >> capability & 1)


def lacking(capability: int, what: str) -> str | None:
    """The reason `what` is unavailable when this process lacks `capability`, else None."""
    if has_capability(capability):
        return None
    return f"{what} needs {CAPABILITY_NAMES[capability]}, which nsinspect does not hold"


def denied_reason(exc: OSError, what: str) -> str:
    """An OSError as a reason: the errno name, and for EACCES/EPERM the capability that helps."""
    name = errno_name(exc)
    if name in ("EACCES", "EPERM"):
        return f"{what}: {name} (needs CAP_SYS_PTRACE)"
    return f"{what}: {name}"
