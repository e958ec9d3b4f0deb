"""Split shards: the parts of a shard, merged, equal the shard read whole."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpus_fixtures import NEGATIVE_AI, POSITIVE, write_jsonl

from corpus_scan.detect.cascade import DetectorConfig
from corpus_scan.documents import ReadOptions
from corpus_scan.run.shard import process_shard
from corpus_scan.run.units import merge_parts, plan_units
from corpus_scan.sources import discover, read_source

LEXICAL = DetectorConfig(scorer="lexical")
OPTS = ReadOptions(batch_size=100)


def _records(n: int) -> list[dict]:
    recs: list[dict] = []
    for i in range(n):
        recs.append({"id": f"d{i}", "text": POSITIVE if i % 7 == 0 else NEGATIVE_AI})
    return recs


def _comparable(result) -> tuple:
    return (
        result.n_docs,
        result.n_chars,
        result.n_bytes,
        result.n_bad,
        result.n_candidates,
        result.n_flagged,
        result.status,
        result.candidates["row"],
        result.candidates["doc_id"],
        result.bad["row"],
    )


@pytest.fixture(params=["jsonl.gz", "parquet"])
def shard(request, tmp_path: Path) -> Path:
    recs = _records(1234)
    if request.param == "parquet":
        path = tmp_path / "s.parquet"
        pq.write_table(pa.Table.from_pylist(recs), path, row_group_size=100)
        return path
    path = write_jsonl(tmp_path / "s.jsonl.gz", recs, gz=True)
    with open(path, "ab") as fh:  # a bad line in the middle of the stream adds a bad record
        import gzip

        fh.write(
            gzip.compress(
                b"{broken\n" + b"".join(b'{"id": "t%d", "text": "tail"}\n' % i for i in range(50))
            )
        )
    return path


@pytest.mark.parametrize("n_parts", [2, 3])
def test_parts_merge_to_the_whole_shard(shard: Path, n_parts: int) -> None:
    (source,), _ = discover([str(shard)])
    whole = process_shard(source, 0, OPTS, LEXICAL)
    parts = [process_shard(source, 0, OPTS, LEXICAL, part=(k, n_parts)) for k in range(n_parts)]
    assert all(p.n_docs > 0 for p in parts)
    assert _comparable(merge_parts(parts[::-1])) == _comparable(whole)


def test_parts_cover_every_row_once(shard: Path) -> None:
    (source,), _ = discover([str(shard)])
    rows = sorted(r for k in range(3) for b in read_source(source, OPTS, (k, 3)) for r in b.rows)
    whole = [r for b in read_source(source, OPTS) for r in b.rows]
    assert rows == whole


def test_plan_splits_only_big_splittable_shards(tmp_path: Path) -> None:
    big = write_jsonl(tmp_path / "big.jsonl", _records(3000))
    small = write_jsonl(tmp_path / "small.jsonl", _records(10))
    txt = tmp_path / "doc.txt"
    txt.write_text("just text")
    sources, _ = discover([str(big), str(small), str(txt)])
    units = plan_units(list(enumerate(sources)), workers=4, unit_bytes=50_000)
    by_shard: dict[str, int] = {}
    for u in units:
        by_shard[Path(u.source.path).name] = u.n_parts
    assert by_shard == {"big.jsonl": 4, "small.jsonl": 1, "doc.txt": 1}
    assert len(plan_units(list(enumerate(sources)), workers=1, unit_bytes=50_000)) == 3


def _parts(sources, workers: int, unit_bytes: int) -> dict[str, int]:
    units = plan_units(list(enumerate(sources)), workers=workers, unit_bytes=unit_bytes)
    return {Path(u.source.path).name: u.n_parts for u in units}


def test_json_lines_shards_split_only_beyond_a_workers_share(tmp_path: Path) -> None:
    # a JSON lines part decompresses the whole stream: two big files on two workers are
    # cheaper whole (one each) than as four parts that each decompress a whole file
    a = write_jsonl(tmp_path / "a.jsonl.gz", _records(3000), gz=True)
    b = write_jsonl(tmp_path / "b.jsonl.gz", _records(3000), gz=True)
    small = write_jsonl(tmp_path / "small.jsonl.gz", _records(30), gz=True)
    (sa, sb, ss), _ = discover([str(a), str(b), str(small)])
    unit = max(1, sa.size // 10)
    assert _parts([sa, sb], workers=2, unit_bytes=unit) == {"a.jsonl.gz": 1, "b.jsonl.gz": 1}
    # alone, or beside a small file, a big one is still split so that both workers work
    assert _parts([sa], workers=2, unit_bytes=unit) == {"a.jsonl.gz": 2}
    assert _parts([sa, ss], workers=2, unit_bytes=unit) == {"a.jsonl.gz": 2, "small.jsonl.gz": 1}
    # with more workers than files, each file takes its share of them
    assert _parts([sa, sb], workers=4, unit_bytes=unit) == {"a.jsonl.gz": 2, "b.jsonl.gz": 2}


def test_parquet_shards_split_by_size_whatever_the_share(tmp_path: Path) -> None:
    # Parquet parts are disjoint row groups: splitting costs nothing, so size alone decides
    paths = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.Table.from_pylist(_records(3000)), path, row_group_size=100)
        paths.append(str(path))
    sources, _ = discover(paths)
    unit = max(1, sources[0].size // 10)
    assert _parts(sources, workers=2, unit_bytes=unit) == {"a.parquet": 2, "b.parquet": 2}
