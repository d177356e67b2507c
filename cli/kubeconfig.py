"""Whether a kubeconfig is there, found the way kubectl finds one, and can serve remote mode.

A kubeconfig the CLI cannot use (HOME unreadable, KUBECONFIG naming a FIFO, an unreadable or
malformed file) counts as none: local mode runs, after one warning that says which file and why.
A file named with --kubeconfig is the user's explicit choice: one that cannot be used is an error.
Nothing here blocks: a FIFO is opened non-blocking and refused, and a read is capped.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import msgspec

# A kubeconfig with embedded certificates is a few KiB; client-go reads any size, but a file
# this large is not one a person keeps by hand.
KUBECONFIG_CAP = 4 << 20
# One of these makes a YAML mapping a kubeconfig (a file of a merged $KUBECONFIG may hold only
# some of them).
KUBECONFIG_KEYS = frozenset({"kind", "clusters", "contexts", "users", "current-context"})


class KubeconfigError(ValueError):
    """A kubeconfig file that cannot be read or is not a kubeconfig; the message says why."""


class KubeconfigSearch(msgspec.Struct, frozen=True):
    """The usable kubeconfig files found, and why the others were passed over."""

    usable: tuple[str, ...] = ()
    unusable: dict[str, str] = msgspec.field(default_factory=dict)  # path -> why

    def reasons(self) -> str:
        """Which files were passed over and why: `PATH: REASON; PATH: REASON`."""
        return "; ".join(f"{path}: {reason}" for path, reason in self.unusable.items())

    def warning(self) -> str:
        """One line for stderr when nothing usable was found but something was passed over."""
        return (
            f"ignoring the kubeconfig ({self.reasons()}); scanning this node instead (local mode)"
        )


def _reason(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc))


def check_kubeconfig(path: str) -> None:
    """Raise KubeconfigError unless `path` is a regular, readable YAML mapping; a missing file
    raises FileNotFoundError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KubeconfigError(f"cannot be read ({_reason(exc)})") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise KubeconfigError("not a regular file")
        data = os.read(fd, KUBECONFIG_CAP + 1)
    except OSError as exc:
        raise KubeconfigError(f"cannot be read ({_reason(exc)})") from exc
    finally:
        os.close(fd)
    if len(data) > KUBECONFIG_CAP:
        raise KubeconfigError(f"larger than {KUBECONFIG_CAP >> 20} MiB")
    import yaml  # only when a kubeconfig is there

    try:
        document = yaml.safe_load(data)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise KubeconfigError("not YAML") from exc
    if not isinstance(document, dict) or not KUBECONFIG_KEYS & document.keys():
        raise KubeconfigError("not a kubeconfig")


def _candidates(explicit: str | None) -> list[str]:
    if explicit:
        return [explicit]
    listed = os.environ.get("KUBECONFIG", "")
    if listed:
        return [p for p in listed.split(os.pathsep) if p]
    return [str(Path("~/.kube/config").expanduser())]


def find_kubeconfig(explicit: str | None = None) -> KubeconfigSearch:
    """The kubeconfig files kubectl would read (--kubeconfig, else $KUBECONFIG's list, else
    ~/.kube/config): which are usable, and why the others are not. A file that is not there
    is neither."""
    usable: list[str] = []
    unusable: dict[str, str] = {}
    for path in _candidates(explicit):
        try:
            check_kubeconfig(path)
        except FileNotFoundError:
            continue
        except KubeconfigError as exc:
            unusable[path] = str(exc)
        else:
            usable.append(path)
    return KubeconfigSearch(tuple(usable), unusable)


# A pod's service account, as the official client and kubectl read it. The directory can be
# moved (env NSINSPECT_SERVICE_ACCOUNT_DIR) for a token projected elsewhere, and for tests.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_ACCOUNT_DIR_ENV = "NSINSPECT_SERVICE_ACCOUNT_DIR"
SERVICE_HOST_ENV, SERVICE_PORT_ENV = "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"
SERVICE_ACCOUNT_CAP = 64 << 10  # a projected token is ~1 KiB


class ServiceAccount(msgspec.Struct, frozen=True):
    """The files of a pod's mounted service account."""

    directory: Path

    @property
    def token(self) -> Path:
        return self.directory / "token"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    def namespace(self) -> str | None:
        """The pod's namespace: kubectl's default namespace inside a pod."""
        text = _read_small(self.directory / "namespace")
        return text.strip() or None if text is not None else None


def _read_small(path: Path) -> str | None:
    """A small regular file's text, or None (absent, unreadable, not a regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, SERVICE_ACCOUNT_CAP).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def service_account() -> ServiceAccount:
    return ServiceAccount(Path(os.environ.get(SERVICE_ACCOUNT_DIR_ENV) or SERVICE_ACCOUNT_DIR))


def in_cluster_account() -> ServiceAccount | None:
    """The pod's service account when the client can use it: inside a pod (the API's service
    variables), with a token to read."""
    if not os.environ.get(SERVICE_HOST_ENV) or not os.environ.get(SERVICE_PORT_ENV):
        return None
    account = service_account()
    token = _read_small(account.token)
    return account if token is not None and token.strip() else None
