"""/metrics compressed with gzip, in two parts: the scanner compresses its exposition once per
scan, and the server finishes the stream with its own few lines at each scrape, compressing only
those. The client gets one ordinary gzip member (RFC 1952); the server never decompresses, nor
compresses megabytes.

The scanner's file (METRICS_GZIP beside METRICS) is a gzip header and deflate blocks ending on a
sync flush (byte-aligned, no final block), then 8 bytes of its own: the CRC-32 and the length of
the text compressed so far, as a gzip trailer has them. The server sends the file but those 8
bytes, then its lines as deflate blocks of their own (a deflate stream is a sequence of blocks;
the last one says it is), then the trailer of the whole text (CRC-32 continued over its lines).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator

GZIP_WBITS = 31  # zlib: a gzip header and trailer around the deflate stream
SCANNER_LEVEL = 6  # zlib's default: the exposition is ~24 times smaller (measured at 500 pods)
# The server's lines are a few hundred bytes: deflate blocks alone (no header: they continue the
# scanner's stream), the cheapest level, and the smallest window and state zlib has (~3 KB per
# scrape instead of ~256 KB; any inflater reads them, a raw stream declares no window).
SERVER_LEVEL = 1
SERVER_WBITS = -9
SERVER_GZIP_WBITS = 16 + 9  # the same window, with a gzip header and trailer
SERVER_MEMLEVEL = 1
_SIZES = struct.Struct("<II")  # CRC-32 and length mod 2**32, little-endian as in gzip's trailer
FOOTER_BYTES = _SIZES.size
MIN_FILE_BYTES = 10 + FOOTER_BYTES  # a gzip header at least


def compress_prefix(pieces: Iterable[bytes], level: int = SCANNER_LEVEL) -> Iterator[bytes]:
    """The scanner's file for the text `pieces`, in pieces as they are compressed."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, GZIP_WBITS)
    crc, length = 0, 0
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
        length += len(piece)
        yield compressor.compress(piece)
    yield compressor.flush(zlib.Z_SYNC_FLUSH)
    yield _SIZES.pack(crc, length & 0xFFFFFFFF)


def finish(footer: bytes, tail: bytes) -> bytes:
    """What follows the scanner's file (without its `footer`) so that the whole is one gzip
    member of its text followed by `tail`. ValueError when `footer` is not 8 bytes."""
    if len(footer) != FOOTER_BYTES:
        raise ValueError(f"the footer is {len(footer)} bytes, not {FOOTER_BYTES}")
    crc, length = _SIZES.unpack(footer)
    compressor = zlib.compressobj(SERVER_LEVEL, zlib.DEFLATED, SERVER_WBITS, SERVER_MEMLEVEL)
    blocks = compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)
    return blocks + _SIZES.pack(zlib.crc32(tail, crc), (length + len(tail)) & 0xFFFFFFFF)


def compress(data: bytes) -> bytes:
    """`data` as a whole gzip member, at the server's level (the server's lines alone)."""
    compressor = zlib.compressobj(SERVER_LEVEL, zlib.DEFLATED, SERVER_GZIP_WBITS, SERVER_MEMLEVEL)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header (RFC 9110 12.5.3) accepts gzip: `gzip` or `x-gzip`
    with a weight above 0, or `*` above 0 when gzip is not named."""
    weights: dict[str, float] = {}
    for entry in accept_encoding.split(","):
        coding, _, parameters = entry.partition(";")
        weight = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                weight = 0.0
        weights.setdefault(coding.strip().lower(), weight)
    for coding in ("gzip", "x-gzip"):
        if coding in weights:
            return weights[coding] > 0
    return weights.get("*", 0.0) > 0
