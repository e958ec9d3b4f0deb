"""The decompression layer: multi-member/multi-frame streams, padding, corruption."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
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


_STDLIB = {"bzip2": bz2.compress, "xz": lzma.compress}


@pytest.mark.parametrize("codec", ["bzip2", "xz"])
def test_bz2_and_xz_streams_padding_garbage(codec):
    pack = _STDLIB[codec]
    two = pack(DATA[:1000]) + pack(DATA[1000:])  # pbzip2 and multi-stream xz look like this
    assert _all(two, codec) == DATA
    assert _all(two, "gzip") == DATA  # the magic bytes decide, as for zstd
    assert _all(two + b"\0" * 4096, codec) == DATA
    with pytest.raises(StreamError, match=f"trailing garbage after the last {codec}"):
        _all(two + b"junk", codec)
    with pytest.raises(StreamError, match=f"not {codec} data"):
        _all(DATA, codec)


@pytest.mark.parametrize("codec", ["bzip2", "xz"])
def test_bz2_and_xz_cut_or_damaged_keep_what_decoded(codec, monkeypatch):
    import corpus_scan.sources.streams as streams

    monkeypatch.setattr(streams, "CHUNK", 50_000)  # several chunks before the damage
    pack = _STDLIB[codec]
    first = pack(DATA[:300_000])
    whole = first + pack(DATA[300_000:])
    damaged = bytearray(whole)
    damaged[len(first) + 1000 : len(first) + 1064] = b"\xff" * 64
    for data, why in ((whole[: len(whole) - 200], "truncated"), (bytes(damaged), "corrupt")):
        got = []
        with pytest.raises(StreamError, match=f"{why} {codec}"):
            for chunk in iter_chunks(io.BytesIO(data), codec):
                got.append(chunk)
        out = b"".join(got)
        assert len(out) >= 300_000 and DATA.startswith(out)  # the first stream, whole


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


def test_bz2_and_xz_files_of_every_line_format_read_like_plain_ones(h, write, tmp_path):
    import tarfile

    from corpus_scan.sources.discover import discover

    lines = h.jsonl_bytes([{"id": "a", "text": "one"}, {"id": "b", "text": "two"}]) + b"{bad\n"
    write("d/x.jsonl.bz2", bz2.compress(lines))
    write("d/y.csv.xz", lzma.compress(b"id,text\nc,three\nd,four\n"))
    write("d/z.txt.bz2", bz2.compress(b"five\n"))
    member = tmp_path / "m.txt"
    member.write_text("six")
    with tarfile.open(tmp_path / "d" / "w.tar.xz", "w:xz") as tar:
        tar.add(member, arcname="m.txt")
    sources, skipped = discover([str(tmp_path / "d")])
    assert skipped == [] and len(sources) == 4
    got = {s.path.rsplit("/", 1)[1]: h.collect(s) for s in sources}
    assert got["x.jsonl.bz2"].texts == ["one", "two"] and got["x.jsonl.bz2"].bad[0].line == 3
    assert got["y.csv.xz"].texts == ["three", "four"]
    assert got["z.txt.bz2"].texts == ["five\n"]
    assert got["w.tar.xz"].texts == ["six"]
    assert all(r.error is None for r in got.values())
    assert got["x.jsonl.bz2"].n_bytes == len(lines)
