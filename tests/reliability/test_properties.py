"""Property-based tests (hypothesis): any text into the prefilter, any bytes into the readers and
the scan of one shard. Nothing crashes (a broken file may only end its shard with a
ShardReadError), offsets stay in bounds, and every record is counted once."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import tempfile
from pathlib import Path

import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reliability_helpers import TINY

from corpus_scan.detect.lexicon import KINDS
from corpus_scan.detect.prefilter import Prefilter
from corpus_scan.documents import ReadOptions, ShardReadError, Source
from corpus_scan.run.scan import scan
from corpus_scan.run.shard import process_shard
from corpus_scan.sources import read_source
from corpus_scan.store.query import sql

SETTINGS = settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# Lexicon words (so that candidates actually occur) among arbitrary text, odd code points
# (lone surrogates, NUL, combining marks, case mappings that change length, emoji, RTL marks).
_PIECES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "AI",
            "the AI",
            "A.I.",
            "artificial intelligence",
            "language model",
            "chatbot",
            "shut down",
            "shut-down",
            "shutdown",
            "blackmail",
            "threatened to",
            "refused",
            "self-preservation",
            "I consent",
            "copy itself",
            "unplug",
            "\x00",
            "\ud800",
            "\udfff",
            "e\u0301",
            "İ",
            "ß",
            "ǅ",
            "🤖",
            "\u202e",
            "\n\n",
            "—",
            " ",
            "  ",
            ".",
            "x" * 120,
        ]
    ),  # fmt: skip
)
_TEXT = st.lists(_PIECES, max_size=40).map(" ".join)


@pytest.fixture(scope="module")
def prefilter() -> Prefilter:
    return Prefilter(window=80)  # the shipped lexicon, a short window: near misses happen


def _check_candidate(text: str, cand) -> None:  # type: ignore[no-untyped-def]
    n = len(text)
    assert cand.n_pairs >= 1 and 0.0 <= cand.lexical_score <= 1.0
    assert cand.spans and [s.start for s in cand.spans] == sorted(s.start for s in cand.spans)
    for s in cand.spans:
        assert 0 <= s.start < s.end <= n and s.kind in KINDS and s.term
    assert 0 <= cand.evidence_start <= n
    assert text[cand.evidence_start : cand.evidence_start + len(cand.evidence)] == cand.evidence
    assert any(s.kind == "ai" for s in cand.spans) and any(s.kind == "resist" for s in cand.spans)


@SETTINGS
@given(texts=st.lists(_TEXT, max_size=12))
def test_prefilter_any_text(prefilter: Prefilter, texts: list[str]) -> None:
    found = prefilter.candidates(texts)
    indices = [c.index for c in found]
    assert indices == sorted(set(indices)) and all(0 <= i < len(texts) for i in indices)
    for cand in found:
        _check_candidate(texts[cand.index], cand)
    # the batched byte-level gate drops nothing the exact per-text check finds, and a
    # document's result does not depend on its neighbours in the batch
    alone = [i for i, t in enumerate(texts) if prefilter.examine(t) is not None]
    assert indices == alone
    for cand in found:
        [single] = prefilter.candidates([texts[cand.index]])
        assert (single.spans, single.n_pairs, single.evidence) == (
            cand.spans,
            cand.n_pairs,
            cand.evidence,
        )


def _read(path: Path, fmt: str, comp: str | None, batch: int = 3):  # type: ignore[no-untyped-def]
    """(batches, error) of a shard; anything but ShardReadError propagates and fails."""
    batches = []
    try:
        for b in read_source(Source(str(path), fmt, comp), ReadOptions(batch_size=batch)):
            assert len(b.rows) == len(b.ids) == len(b.texts) == len(b.urls)
            assert len(b) + len(b.bad) <= max(batch, 1) or fmt in ("warc", "wet")
            assert all(isinstance(t, str) for t in b.texts)
            batches.append(b)
    except ShardReadError as e:
        assert str(path) in str(e) and "\n" not in str(e)
        return batches, e
    return batches, None


def _rows(batches) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted([r for b in batches for r in b.rows] + [x.row for b in batches for x in b.bad])


_BYTES = st.one_of(
    st.binary(max_size=400),
    st.lists(
        st.one_of(
            st.binary(max_size=30),
            st.text(max_size=30).map(str.encode),
            st.sampled_from([b"text", b'"a,b"', b",", b'"', b"\r", b"\x00", b"\xff\xfe"]),
        ),
        max_size=40,
    ).map(b"".join),
)
_FORMATS = [
    ("x.csv", "csv", None),
    ("x.csv.gz", "csv", "gzip"),
    ("x.txt", "txt", None),
    ("x.warc", "warc", None),
    ("x.warc.gz", "warc", "gzip"),
    ("x.parquet", "parquet", None),
    ("x.tar", "tar", None),
    ("x.jsonl.zst", "jsonl", "zstd"),
    ("x.jsonl.bz2", "jsonl", "bzip2"),
    ("x.csv.xz", "csv", "xz"),
]


@SETTINGS
@given(data=_BYTES, which=st.sampled_from(_FORMATS), cut=st.floats(0.0, 1.0))
@example(data=b'"\n', which=("x.csv", "csv", None), cut=0.0)  # a header cell holding "\n"
def test_readers_any_bytes(data: bytes, which: tuple[str, str, str | None], cut: float) -> None:
    name, fmt, comp = which
    if comp == "gzip":
        data = gzip.compress(data)
    elif comp in ("zstd", "bzip2", "xz"):
        pack = {"zstd": zstandard.ZstdCompressor().compress, "bzip2": bz2.compress,
                "xz": lzma.compress}[comp]
        packed = pack(data)
        data = packed[: max(1, int(len(packed) * cut))]  # often a truncated stream
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        batches, _ = _read(path, fmt, comp)
    rows = _rows(batches)
    assert rows == list(range(len(rows)))  # every record counted once, in order


_LINE = st.one_of(
    st.binary(max_size=30),
    st.text(max_size=60).map(lambda t: orjson.dumps({"text": t})),  # raw UTF-8
    _TEXT.map(lambda t: json.dumps({"id": t[:5], "text": t}).encode()),  # \ud800 escapes too
    st.sampled_from([b"", b"  ", b"{", b"[]", b"null", b'{"text": 1}', b'{"text": "a\xffb"}']),
)


@SETTINGS
@given(lines=st.lists(_LINE, max_size=40))
def test_scan_unit_any_json_lines(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.jsonl"
        path.write_bytes(data)
        src = Source(str(path), "jsonl", None, len(data), path.stat().st_mtime)
        result = process_shard(src, 0, ReadOptions(batch_size=4), TINY)
    assert result.status == "done", result.error
    records = sum(1 for line in data.split(b"\n") if line.strip())
    assert result.n_docs + result.n_bad == records and result.n_bytes == len(data)
    rows = result.candidates["row"]
    assert rows == sorted(set(rows)) and all(0 <= r < records for r in rows)
    assert set(rows).isdisjoint(result.bad["row"])  # a bad record is never a candidate


@settings(max_examples=15, deadline=None, database=None)
@given(lines=st.lists(_LINE, max_size=30), gz=st.booleans())
def test_scan_into_the_database_any_json_lines(lines: list[bytes], gz: bool) -> None:
    data = b"\n".join(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x.jsonl.gz" if gz else "x.jsonl")
        path.write_bytes(gzip.compress(data) if gz else data)
        db = Path(tmp) / "x.duckdb"
        report = scan([str(path)], db, detector=TINY, read_options=ReadOptions(batch_size=4))
        if not path.stat().st_size:  # an empty file is skipped (listed, not read)
            assert report.skipped and report.totals["n_shards"] == 0
            return
        records = sum(1 for line in data.split(b"\n") if line.strip())
        t = report.totals
        assert report.status == "done" and t["n_docs"] + t["n_bad"] == records
        [(n_bad_rows,)] = sql("SELECT count(*) FROM bad_records", db).rows
        [(n_cands,)] = sql("SELECT count(*) FROM candidates", db).rows
        assert n_bad_rows == t["n_bad"] and n_cands == t["n_candidates"]
