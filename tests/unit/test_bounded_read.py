"""The one reader of node files: never blocks, never follows a final link, never reads past
a cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nsinspect.agent.model import errno_name
from nsinspect.agent.model.bounded_read import RefusedFileError, read_capped, size_text


def test_a_file_up_to_its_cap_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b"x" * 100)
    assert read_capped(str(path), 100) == b"x" * 100


def test_a_file_over_its_cap_is_refused_not_cut(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b"x" * 101)
    with pytest.raises(RefusedFileError, match="larger than 100 bytes"):
        read_capped(str(path), 100)


@pytest.mark.timeout(5)
def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "init.pid"
    os.mkfifo(fifo)
    with pytest.raises(RefusedFileError, match="not a regular file"):
        read_capped(str(fifo), 64)


def test_a_final_link_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text("{}")
    (tmp_path / "config.json").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError) as refused:
        read_capped(str(tmp_path / "config.json"), 64)
    assert refused.value.strerror is not None and "symbolic links" in refused.value.strerror


def test_procfs_files_say_they_are_empty_and_are_read_to_their_end() -> None:
    whole = read_capped("/proc/self/maps", 16 << 20)
    assert whole.endswith(b"\n") and len(whole) > 0
    with pytest.raises(RefusedFileError):
        read_capped("/proc/self/maps", 10)


def test_a_refusal_reads_as_its_reason_where_errors_are_recorded(tmp_path: Path) -> None:
    path = tmp_path / "db.sql"
    path.write_bytes(b"x" * (5 << 20))
    with pytest.raises(OSError) as refused:
        read_capped(str(path), 4 << 20)
    assert errno_name(refused.value) == "larger than 4 MiB"
    assert size_text(65536) == "64 KiB"
