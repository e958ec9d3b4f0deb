"""The decompression layer: multi-member/multi-frame streams, padding, corruption."""

from __future__ import annotations

import gzip
import io
import os

import pytest
import zstandard

from corpus_scan.sources.streams import ChunkReader, StreamError, iter_chunks

DATA = os.urandom(300_000).hex().encode()  # 600 kB, poorly compressible


def _all(data: bytes, declared: str | None) -> bytes:
    return b"".join(iter_chunks(io.BytesIO(data), declared))


def test_plain_passthrough():
    assert _all(DATA, None) == DATA
    assert _all(b"", "gzip") == b""  # an empty file is empty, whatever its name


def test_gzip_multi_member_and_padding():
    two = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])
    assert _all(two, "gzip") == DATA
    assert _all(two + b"\0" * 1024, "gzip") == DATA  # NUL padding after the last member
    with pytest.raises(StreamError, match="trailing garbage"):
        _all(two + b"junk", "gzip")


def test_zstd_multi_frame():
    cctx = zstandard.ZstdCompressor()
    two = cctx.compress(DATA[:1000]) + cctx.compress(DATA[1000:])
    assert _all(two, "zstd") == DATA
    assert _all(two, "gzip") == DATA  # a declared codec is checked against the magic bytes
    assert _all(two, None) == two  # undeclared: read as is


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_truncation_keeps_decoded_prefix(codec):
    packed = gzip.compress(DATA) if codec == "gzip" else zstandard.ZstdCompressor().compress(DATA)
    got = []
    with pytest.raises(StreamError, match=f"truncated {codec}"):
        for chunk in iter_chunks(io.BytesIO(packed[: len(packed) // 2]), codec):
            got.append(chunk)
    out = b"".join(got)
    assert len(out) > 0 and DATA.startswith(out)


def test_zstd_corrupt_frame():
    # with a content checksum, as most writers add, any flipped byte is detected
    packed = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(DATA))
    packed[len(packed) // 2 : len(packed) // 2 + 64] = b"\xff" * 64
    with pytest.raises(StreamError, match="zstd"):
        _all(bytes(packed), "zstd")


def test_chunk_reader_peek_read_drain():
    reader = ChunkReader(iter([b"abc", b"", b"defg", b"hij"]))
    assert reader.peek_bytes(5) == b"abcde"
    assert reader.read(2) == b"ab"
    assert reader.consumed == 2
    assert reader.read(100) == b"cdefg"  # a raw read returns what is buffered
    assert reader.drain() == 3
    assert reader.consumed == 10
    assert reader.read(1) == b""
