"""The results directory's layout: namespace keys for any bytes, generations swapped by one
symlink, atomic writes, the index. Checked against what the file system and sha256sum say."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from nsinspect.agent.exchange.layout import (
    CURRENT,
    GenerationIndex,
    ResultsUnreadableError,
    current_generation,
    generation_name,
    namespace_document,
    namespace_key,
    publish_generation,
    read_index,
    write_atomically,
)

ODD_NAMESPACES = [
    "",
    "default",
    "kube-system",
    "../../etc",
    "a/b",
    "line\nbreak",
    "tab\tand\x1b[31mescape",
    "ünïcödé",
    "bad-utf8-\udcff\udcfe",  # bytes 0xff 0xfe, surrogate-escaped as the scan reads them
    "x" * 300,
]


def sha256sum(data: bytes) -> str:
    return (
        subprocess.run(["sha256sum"], input=data, capture_output=True, check=True)
        .stdout.split()[0]
        .decode()
    )


def test_namespace_keys_are_file_names_for_any_bytes() -> None:
    keys = [namespace_key(ns) for ns in ODD_NAMESPACES]
    assert len(set(keys)) == len(keys)
    for ns, key in zip(ODD_NAMESPACES, keys, strict=True):
        assert re.fullmatch(r"ns-[0-9a-f]{40}", key), key
        assert key == "ns-" + sha256sum(os.fsencode(ns))[:40]


def test_a_surrogate_no_byte_decodes_to_still_has_a_key() -> None:
    assert re.fullmatch(r"ns-[0-9a-f]{40}", namespace_key("\ud800"))
    assert namespace_key("\ud800") != namespace_key("\udc80")


def test_no_generation_until_one_is_published(tmp_path: Path) -> None:
    assert current_generation(tmp_path) is None


def test_current_names_the_newest_and_two_generations_are_kept(tmp_path: Path) -> None:
    for number in range(1, 6):
        (tmp_path / generation_name(number)).mkdir()
        publish_generation(tmp_path, number)
        assert current_generation(tmp_path) == tmp_path / f"gen-{number}"
        assert os.readlink(tmp_path / CURRENT) == f"gen-{number}"  # relative: valid in any mount
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "gen-4", "gen-5"]


def test_a_current_link_to_anything_else_is_an_error(tmp_path: Path) -> None:
    os.symlink("/etc", tmp_path / CURRENT)
    with pytest.raises(ResultsUnreadableError, match="not a generation"):
        current_generation(tmp_path)


def test_write_atomically_replaces_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "heartbeat.json"
    write_atomically(target, b"one")
    write_atomically(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["heartbeat.json"]


def test_write_atomically_does_not_follow_a_planted_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    os.symlink(victim, tmp_path / f".heartbeat.json.{os.getpid()}.tmp")
    with pytest.raises(OSError):
        write_atomically(tmp_path / "heartbeat.json", b"new")
    assert victim.read_bytes() == b"keep"


def test_the_index_round_trips_odd_namespaces(tmp_path: Path) -> None:
    index = GenerationIndex(
        node="n\udcff",
        taken_at=1.5,
        generation=3,
        namespaces={ns: namespace_key(ns) for ns in ODD_NAMESPACES},
    )
    (tmp_path / "index.json").write_bytes(index.to_json())
    assert read_index(tmp_path) == index
    assert namespace_document(tmp_path, "pods", None) == tmp_path / "pods" / "empty.json"
    key = namespace_key("default")
    assert namespace_document(tmp_path, "pods", key) == tmp_path / "pods" / f"{key}.json"


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b'{"node": 1, "taken_at": 1, "generation": 1, "namespaces": {}}',
     b'{"node": "n", "taken_at": 1, "generation": 1, "namespaces": {"a": 2}}'],
)  # fmt: skip
def test_a_malformed_index_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "index.json").write_bytes(content)
    with pytest.raises(ResultsUnreadableError, match=r"index\.json is malformed"):
        read_index(tmp_path)


def test_a_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ResultsUnreadableError, match=r"cannot read .*index\.json"):
        read_index(tmp_path)
