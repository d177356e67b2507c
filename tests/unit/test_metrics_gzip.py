"""gzip on /metrics: the scanner's compressed part finished by the server's lines is one gzip
member of the whole text; the server compresses when asked, says so, and falls back to the text
when the scanner wrote no compressed part."""

from __future__ import annotations

import gzip
import os
import random
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from unit.test_server_app import METRICS_PORT, Answered, make_app

from harness.fakenode import Node
from harness.server_results import ResultsTree, written_tree
from nsinspect.agent.daemon.results_writer import ResultsWriter
from nsinspect.agent.exchange import layout
from nsinspect.agent.exchange.metrics_gzip import (
    FOOTER_BYTES,
    accepts_gzip,
    compress_prefix,
    finish,
)
from nsinspect.agent.metrics.health import AgentMetrics
from nsinspect.agent.server.answers import METRICS_TYPE

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip"}


def one_member(data: bytes) -> bytes:
    """`data` decompressed as exactly one gzip member, nothing after it."""
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    text = decompressor.decompress(data) + decompressor.flush()
    assert decompressor.eof and decompressor.unused_data == b""
    assert gzip.decompress(data) == text  # the stdlib's reader agrees, CRC and length checked
    return text


def assembled(pieces: list[bytes], tail: bytes) -> bytes:
    """The scanner's file as the server sends it, then the server's part."""
    written = b"".join(compress_prefix(pieces))
    return written[:-FOOTER_BYTES] + finish(written[-FOOTER_BYTES:], tail)


@pytest.mark.parametrize(
    ("pieces", "tail"),
    [
        ([b"# HELP a x\n", b"a 1.0\n"], b"# TYPE b gauge\nb 2\n"),
        ([], b"b 2\n"),
        ([b"a 1\n"], b""),
        ([], b""),
        # incompressible and larger than deflate's window, over several pieces
        ([random.Random(7).randbytes(100_000) for _ in range(3)], b"tail\n" * 50),
        # a tail longer than the server's window, repeating beyond it
        ([b"a 1\n"], (random.Random(8).randbytes(700) * 4).hex().encode()),
    ],
)
def test_scanner_part_and_server_part_are_one_gzip_member(pieces: list[bytes], tail: bytes) -> None:
    assert one_member(assembled(pieces, tail)) == b"".join(pieces) + tail


def test_lengths_past_four_gib_wrap_as_gzip_says() -> None:
    footer = (0).to_bytes(4, "little") + (2**32 - 3).to_bytes(4, "little")
    trailer = finish(footer, b"12345")[-4:]
    assert int.from_bytes(trailer, "little") == 2


def test_a_short_footer_is_refused() -> None:
    with pytest.raises(ValueError, match="not 8"):
        finish(b"1234", b"x")


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("deflate, GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("identity", False),
        ("", False),
        ("gzip;q=0", False),
        ("gzip; q=0.0, *", False),
        ("*;q=0", False),
        ("br, *;q=0.1", True),
        ("gzip;q=bogus", False),
    ],
)
def test_accept_encoding(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


@pytest.fixture
def tree() -> Iterator[ResultsTree]:
    with written_tree({"a": ["a1"], "": ["loose"]}) as made:
        yield made


def compress_scanners_part(tree: ResultsTree) -> bytes:
    """What the scanner writes beside metrics.prom (the harness writes only the text)."""
    generation = tree.dir / layout.CURRENT
    text = (generation / layout.METRICS).read_bytes()
    (generation / layout.METRICS_GZIP).write_bytes(b"".join(compress_prefix([text])))
    return text


def test_metrics_answered_in_gzip_when_asked(tree: ResultsTree) -> None:
    text = compress_scanners_part(tree)
    app = make_app(tree)
    answer = Answered(app, "/metrics", METRICS_PORT, **GZIP)
    assert answer.code == 200
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Vary"] == "Accept-Encoding"
    assert answer.headers["Content-Type"] == METRICS_TYPE
    assert answer.headers["Content-Length"] == str(len(answer.body))
    body = one_member(answer.body)
    assert body.startswith(text)
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"nsinspect_pods", "nsinspect_scan_stuck"} <= names  # the scanner's, the server's
    assert len(answer.body) < len(body)

    plain = Answered(app, "/metrics", METRICS_PORT, HTTP_ACCEPT_ENCODING="gzip;q=0")
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    assert plain.body.startswith(text)

    head = Answered(app, "/metrics", METRICS_PORT, REQUEST_METHOD="HEAD", **GZIP)
    assert head.body == b"" and head.headers["Content-Encoding"] == "gzip"
    assert int(head.headers["Content-Length"]) > 0


def test_without_the_scanners_compressed_part_the_text_is_sent(tree: ResultsTree) -> None:
    answer = Answered(make_app(tree), "/metrics", METRICS_PORT, **GZIP)
    assert answer.code == 200 and "Content-Encoding" not in answer.headers
    assert answer.body.startswith((tree.dir / layout.CURRENT / layout.METRICS).read_bytes())


def test_a_truncated_compressed_part_is_not_sent(tree: ResultsTree) -> None:
    compress_scanners_part(tree)
    (tree.dir / layout.CURRENT / layout.METRICS_GZIP).write_bytes(b"\x1f\x8b\x08")
    answer = Answered(make_app(tree), "/metrics", METRICS_PORT, **GZIP)
    assert "Content-Encoding" not in answer.headers and b"nsinspect_pods" in answer.body


def test_before_the_first_scan_the_servers_lines_are_compressed(tmp_path: Path) -> None:
    tree = ResultsTree(tmp_path, {})
    tree.heartbeat(ended_ago=None, running_for=1.0, step="procfs")
    answer = Answered(make_app(tree), "/metrics", METRICS_PORT, **GZIP)
    assert answer.headers["Content-Encoding"] == "gzip"
    assert b'step="procfs"' in one_member(answer.body)


def test_the_scanner_writes_the_compressed_part_of_its_text(tmp_path: Path) -> None:
    node = Node(tmp_path / "node")
    node.seed_pod()
    metrics = AgentMetrics()
    metrics.observe_scan(node.snapshot(), None)
    writer = ResultsWriter(tmp_path / "results")
    writer.prepare()
    writer.write(node.snapshot(), metrics.render())
    generation = tmp_path / "results" / layout.CURRENT
    written = (generation / layout.METRICS_GZIP).read_bytes()
    text = (generation / layout.METRICS).read_bytes()
    assert b"nsinspect_pod_sandbox_info" in text
    finished = written[:-FOOTER_BYTES] + finish(written[-FOOTER_BYTES:], b"")
    assert one_member(finished) == text
    assert oct(os.stat(generation / layout.METRICS_GZIP).st_mode & 0o777) == oct(layout.FILE_MODE)
