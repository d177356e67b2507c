"""libpod's pod records from both databases, parsed from memory and bounded."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from nsinspect.agent.model import ScanError
from nsinspect.agent.runtimes.podman_db import (
    MAX_BOLT_CANDIDATES,
    pods_from_bolt,
    read_podman_pods,
)

POD = "ab" * 32


def pod_json(pod_id: str = POD, name: str = "web", **extra: object) -> str:
    record = {"id": pod_id, "name": name, "hostname": name, "hasInfra": True, "sharesNet": True}
    return json.dumps({**record, **extra}, separators=(",", ":"))


# Python's json would decode this name to a lone surrogate, which no encoder writes back out.
LONE_SURROGATE = pod_json("cd" * 32).replace('"web"', '"\\ud800"', 1)


def write_database(path: Path, rows: list[object], *, wal: bool = False, schema: str = "") -> None:
    connection = sqlite3.connect(path)
    if wal:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(schema or "CREATE TABLE PodConfig (ID TEXT, JSON TEXT)")
    connection.executemany("INSERT INTO PodConfig VALUES ('x', ?)", [(r,) for r in rows])
    connection.commit()
    connection.close()  # the last connection checkpoints the WAL into the main file


def test_sqlite_rows_are_pods_and_bad_rows_are_one_error(tmp_path: Path) -> None:
    write_database(
        tmp_path / "db.sql",
        [pod_json(), '{"id": 1}', "[" * 5000, LONE_SURROGATE, 7, b"\xff"],
    )
    errors: list[ScanError] = []
    pods = read_podman_pods(str(tmp_path), errors)
    assert [(p.id, p.name, p.shared) for p in pods.values()] == [(POD, "web", {"net"})]
    assert [(e.reason, e.path) for e in errors] == [
        ("5 malformed pod records", str(tmp_path / "db.sql"))
    ]


def test_a_wal_database_is_read_from_its_main_file(tmp_path: Path) -> None:
    write_database(tmp_path / "db.sql", [pod_json()], wal=True)
    assert (tmp_path / "db.sql").read_bytes()[18:20] == b"\x02\x02"
    errors: list[ScanError] = []
    assert list(read_podman_pods(str(tmp_path), errors)) == [POD]
    assert errors == []


@pytest.mark.timeout(10)
def test_a_podconfig_view_that_never_ends_is_stopped(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "db.sql")
    connection.execute(
        "CREATE VIEW PodConfig AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)"
        " SELECT i AS JSON FROM n ORDER BY i"
    )
    connection.commit()
    connection.close()
    errors: list[ScanError] = []
    started = time.monotonic()
    assert read_podman_pods(str(tmp_path), errors) == {}
    assert time.monotonic() - started < 1
    assert [e.reason for e in errors] == ["podman database: interrupted"]


def test_bolt_records_between_pages_and_a_torn_copy(tmp_path: Path) -> None:
    other = "cd" * 32
    content = b"\x00\x10BOLT" + pod_json().encode() + b"\xff" + pod_json(other).encode()[:40]
    (tmp_path / "bolt_state.db").write_bytes(content)
    errors: list[ScanError] = []
    assert list(read_podman_pods(str(tmp_path), errors)) == [POD]
    assert errors == []


def test_bolt_candidates_are_bounded() -> None:
    record = pod_json().encode()
    pods, problem = pods_from_bolt(b"\x00".join([record] * (MAX_BOLT_CANDIDATES + 5)))
    assert list(pods) == [POD]
    assert problem == f"more than {MAX_BOLT_CANDIDATES} pod records: the rest unread"
