"""Read podman's pod records (name, hostname, labels, shared namespaces) without running podman.

Podman keeps pods in its state database: BoltDB (`bolt_state.db`, podman 4) or SQLite (`db.sql`,
the default from podman 5). Each pod's configuration is a JSON object. BoltDB has no maintained
Python reader, and a B+tree walk would be more code than the question needs, so the Bolt file is
searched for pod JSON objects. The file is copy-on-write, so a freed page can still hold an old
copy of a record; callers look pods up by the id found in a live cgroup, and a pod's id and name
never change, so an old copy gives the same answer.

Both files are read whole, up to a cap, and parsed from memory: nothing the runtime (or anyone)
does to the path afterwards matters, and SQLite never opens, locks or journals a node file. The
database's schema is the writer's too, so the query is bounded in steps and in value size.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

from ..model import ScanError, ScanStage, errno_name
from ..model.bounded_read import read_capped
from .state_json import MalformedJsonError, decode_json

# Podman's database holds every container's configuration too, ~10 KiB each: 16 MiB is some
# 1,500 containers. SQLite takes a copy, and a WAL database one more: three times this must fit
# the agent's memory limit beside what it holds.
PODMAN_DB_CAP = 16 << 20
# A pod's record is a few KiB; one is searched for in a window this long.
POD_RECORD_CAP = 65536
# The Bolt file is searched for record starts; each costs a decode of up to POD_RECORD_CAP.
MAX_BOLT_CANDIDATES = 4096
MAX_POD_ROWS = 4096
# SQLite virtual machine steps, in thousands, the query of the pods may take (~15 ms): a scan of
# MAX_POD_ROWS rows of 2 KiB takes 16, a `PodConfig` view that loops for ever is stopped.
SQLITE_STEP_BUDGET = 1000
# The file format's write and read versions (bytes 18 and 19): 2 for WAL, which an in-memory
# database cannot be in; 1 is the rollback journal. The main file alone is read, as SQLite's
# `immutable` open of the path would read it.
WAL_VERSIONS = b"\x02\x02"
_POD_RECORD_START = re.compile(rb'\{"id":"[0-9a-f]{64}","name":"')


class PodRecord(msgspec.Struct, rename="camel"):
    """libpod's pod configuration, the part nsinspect reads. Only pods have `hasInfra`."""

    id: str
    name: str
    has_infra: bool
    hostname: str = ""
    labels: dict[str, str] | None = None
    shares_net: bool = False
    shares_ipc: bool = False
    shares_uts: bool = False
    shares_pid: bool = False
    shares_mnt: bool = False
    shares_user: bool = False
    shares_cgroup: bool = False


@dataclass(frozen=True, slots=True)
class PodmanPod:
    id: str
    name: str
    hostname: str
    shared: frozenset[str]  # namespace types the pod's containers share with its infra
    labels: Mapping[str, str] = field(default_factory=dict)  # `podman pod create --label`


def pod_from_json(data: bytes | str) -> PodmanPod | None:
    """A pod from its JSON configuration, or None if it is not one."""
    try:
        record = decode_json(data, PodRecord)
    except MalformedJsonError:
        return None
    shares = {
        "net": record.shares_net,
        "ipc": record.shares_ipc,
        "uts": record.shares_uts,
        "pid": record.shares_pid,
        "mnt": record.shares_mnt,
        "user": record.shares_user,
        "cgroup": record.shares_cgroup,
    }
    return PodmanPod(
        record.id,
        record.name,
        record.hostname,
        frozenset(t for t, on in shares.items() if on),
        record.labels or {},
    )


def pods_from_bolt(content: bytes) -> tuple[dict[str, PodmanPod], str]:
    """The pods in a Bolt file, and what was left unread ("" when nothing was)."""
    decoder = json.JSONDecoder()
    pods: dict[str, PodmanPod] = {}
    for count, found in enumerate(_POD_RECORD_START.finditer(content)):
        if count == MAX_BOLT_CANDIDATES:
            return pods, f"more than {MAX_BOLT_CANDIDATES} pod records: the rest unread"
        start = found.start()
        # json's raw_decode finds where the record ends (msgspec decodes whole documents only);
        # latin-1 maps each byte to one character, so that end is an offset into the bytes.
        window = content[start : start + POD_RECORD_CAP].decode("latin-1")
        try:
            _, end = decoder.raw_decode(window)
        except (ValueError, RecursionError):
            continue  # a freed page's torn copy, or not a record at all
        pod = pod_from_json(content[start : start + end])
        if pod is not None:
            pods[pod.id] = pod
    return pods, ""


def pods_from_sqlite(content: bytes) -> tuple[dict[str, PodmanPod], str]:
    """The pods in a SQLite file's `PodConfig` table, and what was wrong with its rows ("" when
    nothing). Raises sqlite3.Error for a database that is not podman's."""
    if content[18:20] == WAL_VERSIONS:
        content = content[:18] + b"\x01\x01" + content[20:]
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(content)
        connection.text_factory = bytes  # the rows' UTF-8 is checked by the decoder, row by row
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, POD_RECORD_CAP)
        steps = iter(range(SQLITE_STEP_BUDGET))
        connection.set_progress_handler(lambda: next(steps, None) is None, 1000)
        rows = connection.execute("SELECT JSON FROM PodConfig LIMIT ?", (MAX_POD_ROWS + 1,))
        pods: dict[str, PodmanPod] = {}
        malformed = 0
        for count, (value,) in enumerate(rows):
            if count == MAX_POD_ROWS:
                return pods, f"more than {MAX_POD_ROWS} pods: the rest unread"
            pod = pod_from_json(value) if isinstance(value, bytes) else None
            if pod is None:
                malformed += 1
            else:
                pods[pod.id] = pod
    finally:
        connection.close()
    return pods, f"{malformed} malformed pod records" if malformed else ""


def read_podman_pods(libpod_dir: str, errors: list[ScanError]) -> dict[str, PodmanPod]:
    """Pods from whichever database `libpod_dir` (`<graph root>/libpod`) holds; one ScanError at
    most for each database file."""
    pods: dict[str, PodmanPod] = {}
    for name, parse in (("db.sql", pods_from_sqlite), ("bolt_state.db", pods_from_bolt)):
        path = f"{libpod_dir}/{name}"
        try:
            found, problem = parse(read_capped(path, PODMAN_DB_CAP))
        except FileNotFoundError:
            continue
        except OSError as exc:
            problem, found = errno_name(exc), {}
        except sqlite3.Error as exc:
            problem, found = f"podman database: {exc}", {}
        pods.update(found)
        if problem:
            errors.append(ScanError(ScanStage.RUNTIME, problem, path=path))
    return pods
