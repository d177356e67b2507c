"""The results directory: where the scanner puts each scan's rendered results and how the server
finds the latest complete one.

    <dir>/heartbeat.json      the scanner's heartbeat (heartbeat.py)
    <dir>/current             symlink -> "gen-<n>", swapped atomically once gen-<n> is complete
    <dir>/gen-<n>/            one scan: metrics.prom (and metrics.prom.gz: metrics_gzip.py),
                              index.json, pods.json, findings.json, namespaces.json,
                              pods/<key>.json, findings/<key>.json, */empty.json
    <dir>/detail.sock         the scanner's detail socket (detail_protocol.py)

A reader resolves `current` once and reads everything of that answer from the generation it named;
the scanner keeps the previous generation, so one in use is not deleted under a slow reader.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT = "heartbeat.json"
CURRENT = "current"
DETAIL_SOCKET = "detail.sock"
GENERATION_PREFIX = "gen-"
METRICS = "metrics.prom"
METRICS_GZIP = "metrics.prom.gz"  # not a whole gzip file: the server finishes it (metrics_gzip.py)
INDEX = "index.json"
PODS = "pods.json"
FINDINGS = "findings.json"
NAMESPACES = "namespaces.json"
PODS_DIR = "pods"
FINDINGS_DIR = "findings"
EMPTY = "empty.json"  # in PODS_DIR and FINDINGS_DIR: the list with "items": []
KEPT_GENERATIONS = 2  # the current one and the one a slow reader may still be reading

SERVER_GID = 65534  # the server runs as nobody:nogroup; it reads the results through its group
DIR_MODE = 0o750
FILE_MODE = 0o640
SOCKET_MODE = 0o660
MAX_INDEX_BYTES = 64 * 1024 * 1024  # one key per pod namespace: far below this on any node

_GENERATION = re.compile(r"gen-([0-9]{1,18})")


class ResultsUnreadableError(Exception):
    """The results directory holds no usable generation (yet), or one that is malformed."""


def namespace_key(namespace: str) -> str:
    """The file name stem of a pod namespace's documents: names may hold any bytes (surrogate-
    escaped), a hash of them never holds a slash, a dot-dot or a control character."""
    try:
        raw = namespace.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte decodes to (from a JSON escape): still a key
        raw = namespace.encode("utf-8", "surrogatepass")
    return "ns-" + hashlib.sha256(raw).hexdigest()[:40]


def generation_name(generation: int) -> str:
    return f"{GENERATION_PREFIX}{generation}"


def generation_number(name: str) -> int | None:
    """n for "gen-<n>", None for any other name."""
    match = _GENERATION.fullmatch(name)
    return int(match.group(1)) if match else None


def current_generation(results_dir: Path) -> Path | None:
    """The generation `current` names (read once: use this path for the whole answer), or None
    when no generation has been published yet."""
    link = results_dir / CURRENT
    try:
        target = os.readlink(link)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ResultsUnreadableError(f"cannot read {link}: {exc.strerror}") from exc
    if generation_number(target) is None:
        raise ResultsUnreadableError(f"{link} points at {target!r}, not a generation")
    return results_dir / target


def namespace_document(generation_dir: Path, documents_dir: str, key: str | None) -> Path:
    """pods/<key>.json or findings/<key>.json; None (a namespace not in the index): empty.json."""
    return generation_dir / documents_dir / (f"{key}.json" if key else EMPTY)


@dataclass(frozen=True, slots=True)
class GenerationIndex:
    node: str
    taken_at: float  # unix seconds: when the scan began
    generation: int
    namespaces: dict[str, str]  # pod namespace ("" = namespace-less pods) -> namespace_key

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "node": self.node,
                "taken_at": self.taken_at,
                "generation": self.generation,
                "namespaces": self.namespaces,
            },
            separators=(",", ":"),
        ).encode("ascii")


def read_bounded(path: Path, limit: int) -> bytes:
    """The whole file, or OSError; ValueError when it holds more than `limit` bytes."""
    with open(path, "rb") as file:
        raw = file.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return raw


def read_index(generation_dir: Path) -> GenerationIndex:
    path = generation_dir / INDEX
    try:
        doc = json.loads(read_bounded(path, MAX_INDEX_BYTES))
        index = GenerationIndex(
            node=doc["node"],
            taken_at=float(doc["taken_at"]),
            generation=doc["generation"],
            namespaces=doc["namespaces"],
        )
    except OSError as exc:
        raise ResultsUnreadableError(f"cannot read {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultsUnreadableError(f"{path} is malformed: {exc}") from exc
    if (
        not isinstance(index.node, str)
        or not isinstance(index.generation, int)
        or not isinstance(index.namespaces, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in index.namespaces.items())
    ):
        raise ResultsUnreadableError(f"{path} is malformed: a field has the wrong type")
    return index


def share_with_server(path: Path) -> None:
    """Give the server's group the path when running as root (in the DaemonSet, fsGroup does it
    and the chown is refused or unneeded: either way not an error)."""
    if os.geteuid() != 0:
        return
    with contextlib.suppress(OSError):
        os.chown(path, -1, SERVER_GID, follow_symlinks=False)


def write_atomically(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`: a reader sees
    the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(tmp, mode)  # the umask may have taken bits away
        share_with_server(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def publish_generation(results_dir: Path, generation: int) -> None:
    """Point `current` at gen-<generation> (complete by now), then delete all but the newest
    KEPT_GENERATIONS generations."""
    link = results_dir / f".{CURRENT}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(link)
    os.symlink(generation_name(generation), link)
    share_with_server(link)
    os.replace(link, results_dir / CURRENT)
    prune_generations(results_dir, keep_from=generation)


def prune_generations(results_dir: Path, keep_from: int, kept: int = KEPT_GENERATIONS) -> None:
    """Delete every generation but the `kept` newest up to `keep_from`, and any newer than it
    (left by an earlier run of the scanner with the same directory)."""
    keep = range(keep_from - kept + 1, keep_from + 1)
    for entry in os.scandir(results_dir):
        number = generation_number(entry.name)
        if number is not None and number not in keep:
            shutil.rmtree(entry.path, ignore_errors=True)
