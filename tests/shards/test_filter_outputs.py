"""Outputs open in the usual tools; output names; one schema from disagreeing records."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from shards_helpers import read_output

from corpus_scan.documents import InputError
from corpus_scan.shards import filter_shards
from corpus_scan.shards.manifest import STATE, prepare_output
from corpus_scan.shards.plan import output_names
from corpus_scan.shards.schema import SchemaInference, to_table


@pytest.mark.parametrize("fmt", ["parquet", "jsonl.gz"])
def test_outputs_load_in_datasets_polars_duckdb(scanned, tmp_path: Path, fmt: str):
    import datasets

    _, db = scanned
    out = tmp_path / "out"
    report = filter_shards(db, out, mode="annotate", fmt=fmt)
    builder = "parquet" if fmt == "parquet" else "json"
    for entry in report.shards:
        path = str(out / entry["output"])
        ds = datasets.load_dataset(
            builder, data_files=path, split="train", cache_dir=str(tmp_path / "hf_cache")
        )
        assert ds.num_rows == entry["written"]
        assert ds["cs_flagged"] == [r["cs_flagged"] for r in read_output(Path(path))]
        frame = pl.read_parquet(path) if fmt == "parquet" else pl.read_ndjson(path)
        assert frame.height == entry["written"]
        reader = "read_parquet" if fmt == "parquet" else "read_json_auto"
        (n,) = duckdb.sql(f"SELECT count(*) FROM {reader}('{path}')").fetchall()[0]
        assert n == entry["written"]


def test_output_names_mirror_inputs():
    names, root = output_names(
        ["/d/web/a.jsonl.gz", "/d/web/sub/b.JSONL", "/d/web/c.parquet", "/d/news/x.csv"],
        ".parquet",
    )
    assert root == "/d"
    assert names == ["web/a.parquet", "web/sub/b.parquet", "web/c.parquet", "news/x.parquet"]
    names, root = output_names(["/d/a.jsonl", "/d/a.jsonl.gz", "/d/b.txt"], ".jsonl.gz")
    assert root == "/d"
    assert names == ["a.jsonl.jsonl.gz", "a.jsonl.gz.jsonl.gz", "b.jsonl.gz"]
    names, _ = output_names(["hf:org/name", "hf://datasets/org/n2/data/*.parquet"], ".parquet")
    assert names == ["hf/org/name.parquet", "hf/org/n2/data/_.parquet.parquet"]
    names, root = output_names(["/only/one.jsonl"], ".parquet")
    assert (names, root) == (["one.parquet"], "/only")


def test_schema_inference_unifies_or_falls_back_to_json_text():
    infer = SchemaInference()
    infer.add([{"a": 1, "s": {"x": 1}, "m": 1, "t": "text"}, {"a": None, "e": {}}])
    infer.add([{"a": 2.5, "s": {"y": "z"}, "m": "one", "big": 2**70, "t": "more"}])
    schema = infer.schema()
    assert schema.names == ["a", "s", "m", "t", "e", "big"]
    assert schema.field("a").type == pa.float64()
    assert schema.field("s").type == pa.struct([("x", pa.int64()), ("y", pa.string())])
    assert infer.json_fields == {"m", "e", "big"}
    table = to_table(
        [{"m": 1, "t": "x", "e": {}}, {"m": "one", "big": 2**70}, {}], schema, infer.json_fields
    )
    assert table.column("m").to_pylist() == ["1", "one", None]  # strings stay strings
    assert table.column("e").to_pylist() == ["{}", None, None]
    assert table.column("big").to_pylist() == [None, str(2**70), None]
    assert table.column("t").to_pylist() == ["x", None, None]
    with pytest.raises(InputError, match="does not fit"):
        to_table([{"a": "not a number"}], schema, infer.json_fields)


def test_a_shard_with_nothing_to_write_gets_no_file(scanned, tmp_path: Path):
    """An empty Parquet file (no row group) makes `datasets` fail on the whole folder, so a
    shard whose documents are all dropped (here a one-document text file) gets no file; the
    manifest says so, and a resumed job takes such a logged shard as done."""
    import datasets

    _, db = scanned
    out = tmp_path / "out"
    report = filter_shards(db, out, mode="drop", fmt="parquet")
    empty = [e for e in report.shards if e["written"] == 0]
    full = [e for e in report.shards if e["written"]]
    assert empty and full
    for e in empty:
        assert e["sha256"] is None and e["output_bytes"] == 0
        assert not (out / e["output"]).exists()
    for e in full:  # every file there is loads (shards of different sources differ in columns)
        ds = datasets.load_dataset("parquet", data_files=str(out / e["output"]), split="train",
                                   cache_dir=str(tmp_path / "hf_cache"))
        assert ds.num_rows == e["written"]
    assert len(list(out.rglob("*.parquet"))) == len(full)
    # resuming: a logged shard with nothing to write is done, though it has no file
    job = {"job": "same"}
    resume = tmp_path / "resume"
    resume.mkdir()
    lines = [json.dumps({"job": job}), *(json.dumps(e) for e in empty)]
    (resume / STATE).write_text("\n".join(lines) + "\n")
    log = prepare_output(resume, job, overwrite=False)
    assert set(log.done) == {e["output"] for e in empty}


@pytest.mark.parametrize("fmt", ["parquet", "jsonl.gz"])
@pytest.mark.parametrize("mode", ["drop", "annotate"])
def test_string_view_columns_are_written_as_large_strings(tmp_path: Path, fmt: str, mode: str):
    """Polars writes text as string_view, which Arrow cannot `take`: filter used to crash."""
    import datasets
    import pyarrow.feather as feather
    import pyarrow.parquet as pq
    from shards_helpers import CLEAN, HIT, LEXICAL

    from corpus_scan.run.scan import scan

    views = pa.table({
        "text": pa.array([HIT, CLEAN, CLEAN], pa.string_view()),
        "id": pa.array(["a", "b", "c"], pa.string_view()),
        "tags": pa.array([["x"], [], ["y", "z"]], pa.list_(pa.string_view())),
    })  # fmt: skip
    (tmp_path / "in").mkdir()
    pq.write_table(views, tmp_path / "in" / "v.parquet")
    # list views (Arrow files only): a batch cast of them built invalid offsets, a segfault
    views = views.set_column(2, "tags", pa.array([["x"], [], ["y", "z"]],
                                                 pa.list_view(pa.string_view())))  # fmt: skip
    views = views.append_column("more", pa.array([["p"], ["q"], ["r"]],
                                                 pa.large_list_view(pa.string())))  # fmt: skip
    feather.write_feather(views, tmp_path / "in" / "v.arrow")
    db = tmp_path / "x.duckdb"
    scan([str(tmp_path / "in")], db, detector=LEXICAL)
    out = tmp_path / "out"
    result = filter_shards(db, out, mode=mode, fmt=fmt)
    builder = "parquet" if fmt == "parquet" else "json"
    for entry in result.shards:
        assert entry["written"] == (2 if mode == "drop" else 3)
        ds = datasets.load_dataset(builder, data_files=str(out / entry["output"]), split="train",
                                   cache_dir=str(tmp_path / "hf"))  # fmt: skip
        assert ds["id"] == (["b", "c"] if mode == "drop" else ["a", "b", "c"])
        assert ds["tags"][-1] == ["y", "z"]
