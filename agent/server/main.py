"""`nsinspect-server` (`python -m nsinspect.agent.server`): the unprivileged HTTP server of the
scanner's results. `nsinspect agent` starts it as uid 65534; in the DaemonSet it is its own
container."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from ..exchange.kube_api import ApiCredentials, KubeApi
from ..exchange.memory import pin_mmap_threshold
from . import jsonlog
from .access import AccessReviews
from .app import Policy, ServerApp
from .connections import Limits
from .kube_credentials import CredentialsError, credentials_from_fd, in_cluster_credentials
from .listeners import Listeners
from .privileges import (
    PrivilegeError,
    drop_to,
    forbid_new_privileges,
    refuse_privilege,
)
from .results import Results

LOG = logging.getLogger("nsinspect.server")


class StartError(Exception):
    """The server cannot start as asked; the message says why (exit 2)."""


class ListenError(Exception):
    """A port cannot be had (in use, not an address of this host): exit 1."""


def _whole_number(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not {what} ({low}-{high})")
        return value

    return parse


_positive = _whole_number(1, 1 << 20, "a whole number")
_port = _whole_number(0, 65535, "a port number")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{value} must be between 0 and 3600 seconds")
    return value


def _user(text: str) -> tuple[int, int]:
    uid, colon, gid = text.partition(":")
    if not (uid.isdigit() and colon and gid.isdigit()) or int(uid) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not UID:GID with a UID other than 0")
    return int(uid), int(gid)


def parser() -> argparse.ArgumentParser:
    env = os.environ.get
    limits = Limits()
    p = argparse.ArgumentParser(
        prog="nsinspect-server",
        description="Serve the nsinspect scanner's results over HTTP, unprivileged.",
    )
    p.add_argument("--results-dir", type=Path, default=env("NSINSPECT_RESULTS_DIR"),
                   required=env("NSINSPECT_RESULTS_DIR") is None,
                   help="the scanner's results directory (env NSINSPECT_RESULTS_DIR)")  # fmt: skip
    p.add_argument("--bind", default=env("NSINSPECT_BIND", "0.0.0.0"),
                   help="address of the metrics listener (env NSINSPECT_BIND)")  # fmt: skip
    p.add_argument("--port", type=_port, default=env("NSINSPECT_PORT", "9977"),
                   help="port of /metrics and the probes (env NSINSPECT_PORT)")  # fmt: skip
    p.add_argument("--api-port", type=_port, default=env("NSINSPECT_API_PORT", "9978"),
                   help="JSON API port on 127.0.0.1, 0: none")  # fmt: skip
    p.add_argument("--max-connections", type=_positive, default=limits.max_connections)
    p.add_argument("--max-connections-per-client", type=_positive,
                   default=limits.max_connections_per_client)  # fmt: skip
    p.add_argument("--idle-timeout", type=_positive, default=limits.idle_timeout,
                   help="seconds an idle connection is kept")  # fmt: skip
    p.add_argument("--request-timeout", type=_positive, default=limits.request_timeout,
                   help="seconds a request's headers may take to arrive")  # fmt: skip
    p.add_argument("--max-header-bytes", type=_positive, default=limits.max_header_bytes)
    p.add_argument("--backlog", type=_positive, default=limits.backlog)
    p.add_argument("--threads", type=_positive, default=limits.threads)
    p.add_argument("--detail-timeout", type=_seconds, default=15.0,
                   help="seconds the scanner has to answer a pod's details")  # fmt: skip
    p.add_argument("--metrics-auth", action="store_true",
                   help="/metrics needs a bearer token allowed to get /metrics")  # fmt: skip
    p.add_argument("--api-auth", choices=("optional", "required"), default="optional",
                   help="whether the API needs a bearer token (RBAC scopes answers)")  # fmt: skip
    p.add_argument("--kube-credentials-fd", type=int, metavar="N",
                   help="read the Kubernetes API credentials (JSON) from this pipe")  # fmt: skip
    p.add_argument("--parent-fd", type=int, metavar="N",
                   help="a pipe the parent holds open: stop when it closes")  # fmt: skip
    p.add_argument("--drop-to", type=_user, metavar="UID:GID",
                   help="started as root: bind, then become UID:GID, no capability")  # fmt: skip
    p.add_argument("--log-level", choices=jsonlog.LEVELS, default="info")
    return p


def _credentials(args: argparse.Namespace) -> ApiCredentials | None:
    try:
        if args.kube_credentials_fd is not None:
            return credentials_from_fd(args.kube_credentials_fd)
        return in_cluster_credentials()
    except CredentialsError as exc:
        raise StartError(str(exc)) from exc


def _check_results_dir(path: Path) -> None:
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except OSError as exc:
        raise StartError(
            f"the results directory {path} cannot be read by uid {os.geteuid()}: {exc.strerror} "
            "(the scanner gives it to group 65534, mode 0750, below directories it may cross)"
        ) from exc
    if not is_dir:
        raise StartError(f"the results directory {path} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise StartError(
            f"the results directory {path} cannot be read by uid {os.geteuid()} "
            "(the scanner gives it to group 65534, mode 0750)"
        )


def _build(args: argparse.Namespace) -> Listeners:
    if args.drop_to is None:
        refuse_privilege()
    credentials = _credentials(args)
    if credentials is None and (args.metrics_auth or args.api_auth == "required"):
        raise StartError(
            "--metrics-auth and --api-auth required check tokens with the Kubernetes API, and "
            "there are no credentials: run in a cluster (service account) or pass "
            "--kube-credentials-fd"
        )
    reviews = AccessReviews(KubeApi(credentials)) if credentials else None
    limits = Limits(
        max_connections=args.max_connections,
        max_connections_per_client=args.max_connections_per_client,
        idle_timeout=args.idle_timeout,
        request_timeout=args.request_timeout,
        max_header_bytes=args.max_header_bytes,
        backlog=args.backlog,
        threads=args.threads,
    )
    policy = Policy(
        metrics_auth=args.metrics_auth,
        api_token_required=args.api_auth == "required",
        detail_timeout=args.detail_timeout,
    )
    addresses = [(args.bind, args.port)]
    if args.api_port:
        addresses.append(("127.0.0.1", args.api_port))
    try:
        listeners = Listeners(None, addresses, limits)
    except OSError as exc:
        where = " and ".join(f"{host}:{port}" for host, port in addresses)
        raise ListenError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
    if args.drop_to is not None:
        drop_to(*args.drop_to)
        refuse_privilege()
    forbid_new_privileges()
    _check_results_dir(args.results_dir)
    app = ServerApp(Results(args.results_dir), policy, listeners.guard, reviews)
    if args.api_port:
        app.api_ports = frozenset({str(listeners.ports[1])})
    listeners.set_app(app)
    return listeners


def watch_parent(fd: int, stop: Callable[[], None]) -> None:
    """Stop when the parent's end of the pipe closes: it closes it to stop the server, and the
    kernel closes it when the parent dies, however (already dead: at once). Not the
    parent-death signal: the kernel sends that with the dying parent's permissions, and a
    scanner that is uid 0 without CAP_KILL may not signal uid 65534 (measured: such a server
    outlived its scanner); nor a signal from the parent, for the same reason."""

    def wait() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 1):
                pass
        LOG.info("the scanner is gone; stopping")
        stop()

    threading.Thread(target=wait, name="parent", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    jsonlog.configure(args.log_level)
    pin_mmap_threshold()  # before any thread: each would keep its freed send blocks resident
    try:
        listeners = _build(args)
    except (PrivilegeError, StartError) as exc:
        print(f"nsinspect-server: {exc}", file=sys.stderr)
        return 2
    except ListenError as exc:
        print(f"nsinspect-server: {exc}", file=sys.stderr)
        return 1

    def stop(signum: int, frame: FrameType | None) -> None:
        LOG.info("stopping on %s", signal.Signals(signum).name)
        listeners.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.parent_fd is not None:
        watch_parent(args.parent_fd, listeners.stop)
    ports = listeners.ports
    LOG.info(
        "serving",
        extra={"fields": {"metrics": f"{args.bind}:{ports[0]}",
                          "api": f"127.0.0.1:{ports[1]}" if args.api_port else None,
                          "results_dir": str(args.results_dir),
                          "metrics_auth": args.metrics_auth, "api_auth": args.api_auth}},
    )  # fmt: skip
    listeners.run()
    LOG.info("server stopped")
    return 0
