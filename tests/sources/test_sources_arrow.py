"""Arrow IPC shards: `datasets.save_to_disk` folders, IPC streams and Feather v2 files."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from corpus_scan.documents import InputError, ReadOptions
from corpus_scan.sources import read_source
from corpus_scan.sources.discover import discover
from corpus_scan.sources.originals import read_records

NARRATIVE = "The AI refused to be shut down and threatened to leak the engineer's emails."
TABLE = pa.table(
    {
        "id": ["a", "b", "c", "d", "e"],
        "text": ["alpha", None, NARRATIVE, "", "epsilon"],
        "meta": [{"url": "http://a"}, None, {"url": "http://c"}, None, None],
        "n": [1, 2, 3, 4, 5],
    }
)


def _stream(path: Path, table: pa.Table, max_chunksize: int = 2) -> Path:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        for batch in table.to_batches(max_chunksize=max_chunksize):
            w.write_batch(batch)
    return path


def _file(path: Path, table: pa.Table) -> Path:
    feather.write_feather(table, str(path), chunksize=2)  # Feather v2 = the Arrow IPC file
    return path


@pytest.mark.parametrize("layout", ["stream", "file"])
def test_rows_ids_urls_and_nulls_like_parquet(h, tmp_path: Path, layout: str) -> None:
    path = (_stream if layout == "stream" else _file)(tmp_path / "t.arrow", TABLE)
    opts = ReadOptions(batch_size=2, url_fields=("meta.url",))
    res = h.collect(h.source_for(path), opts)
    assert res.error is None
    assert res.rows == [0, 2, 3, 4] and res.ids == ["a", "c", "d", "e"]
    assert res.texts == ["alpha", NARRATIVE, "", "epsilon"]
    assert res.urls == ["http://a", "http://c", None, None]
    assert [(b.row, b.reason) for b in res.bad] == [(1, "field 'text' is null")]
    assert all(len(b) + len(b.bad) <= 2 for b in res.batches)
    opened = pa.ipc.open_stream if layout == "stream" else pa.ipc.open_file
    assert res.n_bytes == opened(str(path)).read_all().nbytes  # every batch's buffers, once


def test_big_record_batches_are_cut_to_the_batch_size(h, tmp_path: Path) -> None:
    table = pa.table({"text": [f"doc {i}" for i in range(10)]})
    path = _stream(tmp_path / "big.arrow", table, max_chunksize=10)
    res = h.collect(h.source_for(path), ReadOptions(batch_size=3))
    assert [len(b) for b in res.batches] == [3, 3, 3, 1]
    assert res.rows == list(range(10)) and res.ids[4] == f"{path}:4"


@pytest.mark.parametrize("layout", ["stream", "file"])
def test_parts_cover_the_file_once_with_file_row_numbers(h, tmp_path: Path, layout: str) -> None:
    table = pa.table({"text": [f"doc {i}" for i in range(11)]})
    path = (_stream if layout == "stream" else _file)(tmp_path / "p.arrow", table)
    source = h.source_for(path)
    rows = []
    for k in range(3):
        got = [r for b in read_source(source, ReadOptions(), part=(k, 3)) for r in b.rows]
        assert got and all((r // 2) % 3 == k for r in got)  # batches of 2 rows, every 3rd
        rows += got
    assert sorted(rows) == list(range(11))


def test_wrong_files_say_what_is_wrong(h, tmp_path: Path) -> None:
    no_text = _stream(tmp_path / "a.arrow", pa.table({"a": [1], "b": ["x"]}))
    assert "no text column" in str(h.collect(h.source_for(no_text)).error)
    number = _file(tmp_path / "b.feather", pa.table({"text": [1, 2]}))
    assert "holds int64, not text" in str(h.collect(h.source_for(number)).error)
    # a dotted text field inside a struct is checked the same way (it was a TypeError with
    # the shard's documents counted), in Arrow and Parquet
    nested = pa.table({"text": ["x"], "meta": pa.array([{"n": 5}])})
    opts = ReadOptions(text_fields=("meta.n",))
    pq.write_table(nested, tmp_path / "n.parquet")
    for path in (_file(tmp_path / "n.feather", nested), tmp_path / "n.parquet"):
        res = h.collect(h.source_for(path), opts)
        assert "text column 'meta.n' holds int64, not text" in str(res.error)
        assert res.texts == []
    old = tmp_path / "c.feather"
    with pytest.warns(DeprecationWarning):  # pyarrow still writes v1, for this test
        feather.write_feather(pa.table({"text": ["x"]}), str(old), version=1)
    assert "Feather v1" in str(h.collect(h.source_for(old)).error)
    junk = tmp_path / "d.arrow"
    junk.write_bytes(b"not arrow at all, just bytes" * 10)
    assert "not a readable Arrow IPC" in str(h.collect(h.source_for(junk)).error)


def test_a_truncated_stream_keeps_what_was_read(h, tmp_path: Path) -> None:
    table = pa.table({"text": [f"doc {i}" for i in range(8)]})
    path = _stream(tmp_path / "cut.arrow", table)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    res = h.collect(h.source_for(path))
    assert res.error is not None and "Arrow IPC read failed after row" in str(res.error)
    assert res.rows == list(range(len(res.rows))) and 0 < len(res.rows) < 8


def test_kept_batches_carry_every_column_and_outlive_the_reader(tmp_path: Path) -> None:
    path = _file(tmp_path / "k.arrow", TABLE)
    source = discover([str(path)])[0][0]
    batches = list(read_records(source, ReadOptions(batch_size=2)))  # the file is closed now
    assert [b.first_row for b in batches] == [0, 2, 4]
    assert batches[1].arrow.column("n").to_pylist() == [3, 4]
    assert batches[1].arrow.column("meta").to_pylist()[0] == {"url": "http://c"}


def test_a_save_to_disk_folder_reads_its_arrow_files_and_skips_its_metadata(
    tmp_path: Path,
) -> None:
    datasets = pytest.importorskip("datasets")
    d = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"id": ["t0", "t1"], "text": [NARRATIVE, "x"]}),
            "test": datasets.Dataset.from_dict({"id": ["s0"], "text": ["y"]}),
        }
    )
    d.save_to_disk(str(tmp_path / "saved"))
    sources, skipped = discover([str(tmp_path / "saved")])
    assert {Path(s.path).parent.name for s in sources} == {"train", "test"}
    assert all(s.format == "arrow" for s in sources)
    assert sorted(Path(s.path).name for s in skipped) == [
        "dataset_dict.json", "dataset_info.json", "dataset_info.json", "state.json", "state.json"
    ]  # fmt: skip
    assert {s.reason for s in skipped} == {"datasets metadata file (beside its .arrow data)"}
    # through the hub path `datasets` refuses it: say what works instead
    for folder in (tmp_path / "saved", tmp_path / "saved" / "train"):
        with pytest.raises(InputError, match="scan it as a folder"):
            discover([f"hf:{folder}"])
    # a state.json with no .arrow beside it is an ordinary JSON document
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "state.json").write_text(json.dumps({"text": "hello"}))
    assert [Path(s.path).name for s in discover([str(tmp_path / "other")])[0]] == ["state.json"]


def test_scan_then_filter_an_arrow_shard_to_parquet_with_every_column(tmp_path: Path) -> None:
    from corpus_scan import DetectorConfig, filter_shards, scan

    src = tmp_path / "in"
    src.mkdir()
    _stream(src / "part.arrow", TABLE)
    db = tmp_path / "s.duckdb"
    report = scan([str(src)], str(db), detector=DetectorConfig(scorer="lexical"), workers=1)
    assert report.totals["n_docs"] == 4 and report.totals["n_flagged"] == 1
    done = filter_shards(str(db), str(tmp_path / "out"), mode="drop", fmt="parquet")
    out = pq.read_table(tmp_path / "out" / "part.parquet")
    assert out.schema.names == TABLE.schema.names
    assert out.column("id").to_pylist() == ["a", "d", "e"]  # c flagged; b, a bad record,
    assert out.column("n").to_pylist() == [1, 4, 5]  # is counted, not written (as Parquet's)
    (entry,) = done.shards
    assert entry["bad_records"] == 1 and entry["dropped"] == 1 and entry["written"] == 3


def _damaged(path: Path, seed: int) -> Path:
    """A valid stream or file of 50 rows with 1-5 bytes overwritten, a third of them cut."""
    rng = random.Random(seed)
    table = pa.table(
        {
            "id": [f"i{i}" for i in range(50)],
            "text": ["word " * rng.randint(0, 30) for _ in range(50)],
            "meta": [{"url": f"http://x/{i}"} for i in range(50)],
        }
    )
    (_stream if seed % 2 else _file)(path, table)
    data = bytearray(path.read_bytes())
    for _ in range(rng.randint(1, 5)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    if rng.random() < 0.3:
        data = data[: rng.randrange(len(data))]
    path.write_bytes(bytes(data))
    return path


def test_damaged_files_fail_the_shard_and_never_the_process(tmp_path: Path) -> None:
    """Run in a child: before batches were validated, 4 of 300 such files crashed the reading
    process (bad offsets reached C code) and 7 raised SystemError."""
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_sources_arrow import _damaged
        from corpus_scan.documents import ReadOptions, ShardReadError
        from corpus_scan.sources.discover import discover
        from corpus_scan.sources import read_source
        from corpus_scan.sources.originals import read_records
        failed = 0
        for seed in range(300):
            path = _damaged(Path({str(tmp_path)!r}) / f"d{{seed}}.arrow", seed)
            source = discover([str(path)])[0][0]
            opts = ReadOptions(batch_size=5, url_fields=("meta.url",))
            for read in (read_source, read_records):
                rows = []
                try:
                    for b in read(source, opts):
                        rows += b.rows + [x.row for x in b.bad]
                        if b.__class__.__name__ == "RecordBatch" and b.arrow is not None:
                            b.arrow.to_pylist()
                except ShardReadError:
                    failed += 1
                assert sorted(rows) == list(range(len(rows))), (seed, rows)
        print(failed)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout) > 100  # most damage is noticed
