"""Property: arbitrary bytes as JSON lines never crash the reader and every line is counted."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_scan.documents import ReadOptions, ShardReadError, Source
from corpus_scan.sources import read_source

_LINE = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=20).map(lambda t: orjson.dumps({"text": t, "id": t[:3] or None})),
    st.sampled_from(
        [
            b"",
            b" ",
            b"\r",
            b"\t \x0c",
            b"{}",
            b"[]",
            b"null",
            b'{"text": null}',
            b'"x"',
            b'\xef\xbb\xbf{"text": "bom"}',
            b'{"text": "a\xffb"}',
            b'{"text": 3}',
            b"{",
        ]
    ),  # fmt: skip
)
_DATA = st.one_of(st.lists(_LINE, max_size=30).map(b"\n".join), st.binary(max_size=300))


def _non_blank_lines(data: bytes) -> int:
    return sum(1 for line in data.split(b"\n") if line.strip())


def _read(path: Path, fmt: str, comp: str | None) -> tuple[list, ShardReadError | None]:
    batches = []
    try:
        for batch in read_source(Source(str(path), fmt, comp), ReadOptions(batch_size=3)):
            batches.append(batch)
    except ShardReadError as e:
        return batches, e
    return batches, None


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=_DATA, gz=st.booleans())
def test_jsonl_arbitrary_bytes(data: bytes, gz: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x.jsonl.gz" if gz else "x.jsonl")
        path.write_bytes(gzip.compress(data) if gz else data)
        batches, error = _read(path, "jsonl", "gzip" if gz else None)
    assert error is None
    rows = sorted([r for b in batches for r in b.rows] + [x.row for b in batches for x in b.bad])
    assert rows == list(range(_non_blank_lines(data)))
    assert sum(b.n_bytes for b in batches) == len(data)
    assert all(len(b) + len(b.bad) <= 3 for b in batches)
    for b in batches:
        assert all(isinstance(t, str) for t in b.texts)  # empty/blank texts are documents too


@settings(max_examples=100, deadline=None, database=None)
@given(data=_DATA)
def test_json_arbitrary_bytes_only_shard_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.json"
        path.write_bytes(data)
        batches, _ = _read(path, "json", None)  # anything but ShardReadError propagates
    assert all(len(b) + len(b.bad) <= 3 for b in batches)


@settings(max_examples=60, deadline=None, database=None)
@given(data=_DATA, cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_gzip_only_shard_errors(data: bytes, cut: float) -> None:
    packed = gzip.compress(data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.jsonl.gz"
        path.write_bytes(packed[: int(len(packed) * cut)])
        batches, error = _read(path, "jsonl", "gzip")
    rows = sorted([r for b in batches for r in b.rows] + [x.row for b in batches for x in b.bad])
    assert rows == list(range(len(rows)))
    assert len(rows) <= _non_blank_lines(data)
