"""Read podman's pod records (name, hostname, shared namespaces) without running podman.

Podman keeps pods in its state database: BoltDB (`bolt_state.db`, podman 4) or SQLite (`db.sql`,
the default from podman 5). Each pod's configuration is a JSON object. BoltDB has no maintained
Python reader, and a B+tree walk would be more code than the question needs, so the Bolt file is
searched for pod JSON objects. The file is copy-on-write, so a freed page can still hold an old
copy of a record; callers look pods up by the id found in a live cgroup, and a pod's id and name
never change, so an old copy gives the same answer.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..model import ScanError, ScanStage, errno_name

_POD_RECORD_START = re.compile(rb'\{"id":"[0-9a-f]{64}","name":"')
_SHARE_KEYS = {
    "sharesNet": "net",
    "sharesIpc": "ipc",
    "sharesUts": "uts",
    "sharesPid": "pid",
    "sharesMnt": "mnt",
    "sharesUser": "user",
    "sharesCgroup": "cgroup",
}


@dataclass(frozen=True, slots=True)
class PodmanPod:
    id: str
    name: str
    hostname: str
    shared: frozenset[str]  # namespace types the pod's containers share with its infra


def pod_from_config(config: Any) -> PodmanPod | None:
    """A pod from its JSON configuration, or None if it is not one."""
    if not isinstance(config, dict) or "hasInfra" not in config:
        return None
    pod_id, name = config.get("id"), config.get("name")
    if not isinstance(pod_id, str) or not isinstance(name, str):
        return None
    hostname = config.get("hostname")
    return PodmanPod(
        id=pod_id,
        name=name,
        hostname=hostname if isinstance(hostname, str) else "",
        shared=frozenset(t for key, t in _SHARE_KEYS.items() if config.get(key) is True),
    )


def pods_from_bolt(content: bytes) -> dict[str, PodmanPod]:
    decoder = json.JSONDecoder()
    pods: dict[str, PodmanPod] = {}
    for found in _POD_RECORD_START.finditer(content):
        # A record is never larger than a few KiB; bound the decode window.
        window = content[found.start() : found.start() + 65536].decode("utf-8", "replace")
        try:
            config, _ = decoder.raw_decode(window)
        except ValueError:
            continue
        pod = pod_from_config(config)
        if pod is not None:
            pods[pod.id] = pod
    return pods


def pods_from_sqlite(path: str) -> dict[str, PodmanPod]:
    """Raises sqlite3.Error for a database that is not podman's."""
    # immutable=1: read without taking locks or writing a journal; the agent never writes.
    connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        rows = connection.execute("SELECT JSON FROM PodConfig").fetchall()
    finally:
        connection.close()
    pods: dict[str, PodmanPod] = {}
    for (text,) in rows:
        try:
            pod = pod_from_config(json.loads(text))
        except (TypeError, ValueError):
            continue
        if pod is not None:
            pods[pod.id] = pod
    return pods


def read_podman_pods(libpod_dir: str, errors: list[ScanError]) -> dict[str, PodmanPod]:
    """Pods from whichever database `libpod_dir` (`<graph root>/libpod`) holds."""
    pods: dict[str, PodmanPod] = {}
    sqlite_path = f"{libpod_dir}/db.sql"
    try:
        pods.update(pods_from_sqlite(sqlite_path))
    except sqlite3.Error as exc:
        if "unable to open" not in str(exc):
            errors.append(ScanError(ScanStage.RUNTIME, f"podman database: {exc}", path=sqlite_path))
    bolt_path = f"{libpod_dir}/bolt_state.db"
    try:
        with open(bolt_path, "rb") as bolt_file:
            pods.update(pods_from_bolt(bolt_file.read()))
    except FileNotFoundError:
        pass
    except OSError as exc:
        errors.append(ScanError(ScanStage.RUNTIME, errno_name(exc), path=bolt_path))
    return pods
