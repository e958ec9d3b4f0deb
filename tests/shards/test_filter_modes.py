"""drop / keep / annotate into Parquet and gzip JSON lines: content, order, fields, accounting."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from shards_helpers import (
    Corpus,
    flagged_by_shard,
    output_lines,
    output_name,
    read_output,
    without_nulls,
)

from corpus_scan.atomic import file_sha256
from corpus_scan.shards import filter_shards

TEXT_FIELD = {
    "news/a.jsonl": "text",
    "news/b.jsonl.gz": None,  # text or content
    "tables/c.parquet": "content",
    "tables/d.csv": "text",
    "story.txt": "text",
}


def _expected(corpus: Corpus, name: str, flagged: set, mode: str) -> list[tuple[int, dict, str]]:
    docs = corpus.docs[name]
    if mode == "keep":
        return [d for d in docs if d[0] in flagged]
    if mode == "drop":
        return [d for d in docs if d[0] not in flagged]
    return list(docs)


def _text_of(row: dict, name: str) -> str:
    field = TEXT_FIELD[name]
    if field is None:
        return row["text"] if isinstance(row.get("text"), str) else row["content"]
    return row[field]


def _check_manifest(out: Path, db: Path, report) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    con = duckdb.connect(str(db), read_only=True)
    n_docs = dict(con.execute("SELECT path, n_docs FROM shards").fetchall())
    n_bad = dict(con.execute("SELECT path, n_bad FROM shards").fetchall())
    con.close()
    assert manifest["run_id"] == report.run_id == 1
    assert manifest["db"] == str(db.resolve())
    assert manifest["bad_records_passed_through"] is False
    for entry in manifest["shards"]:
        assert entry["written"] == entry["input_docs"] - entry["dropped"] + entry["duplicated"]
        assert entry["input_docs"] == n_docs[entry["input"]]
        assert entry["bad_records"] == n_bad[entry["input"]]
        assert entry["bad_records_passed_through"] is False
        if entry["written"] == 0:  # nothing to write: no file, and the manifest says so
            assert (entry["output_bytes"], entry["sha256"]) == (0, None)
            assert not (out / entry["output"]).exists()
            continue
        size, sha = file_sha256(out / entry["output"])
        assert (size, sha) == (entry["output_bytes"], entry["sha256"])
    t = manifest["totals"]
    assert t["written"] == t["input_docs"] - t["dropped"] + t["duplicated"]
    assert t["input_docs"] == sum(n_docs.values())
    assert not list(out.rglob(".*"))  # no temporary files, no state log once finished
    return manifest


@pytest.mark.parametrize("fmt", ["parquet", "jsonl.gz"])
@pytest.mark.parametrize("mode", ["drop", "keep", "annotate"])
def test_modes_content_order_and_accounting(scanned, tmp_path: Path, mode: str, fmt: str):
    corpus, db = scanned
    out = tmp_path / "out"
    report = filter_shards(db, out, mode=mode, fmt=fmt)
    manifest = _check_manifest(out, db, report)
    assert (manifest["mode"], manifest["format"], manifest["threshold"]) == (mode, fmt, 0.5)
    flagged = flagged_by_shard(corpus, db)
    assert {e["output"] for e in manifest["shards"]} == {output_name(n, fmt) for n in corpus.docs}
    for name, rows in flagged.items():
        expected = _expected(corpus, name, rows, mode)
        path = out / output_name(name, fmt)
        got = read_output(path) if expected else []
        assert path.exists() == bool(expected), name
        assert [_text_of(r, name) for r in got] == [t for _, _, t in expected], name
        if mode == "annotate":
            assert [r["cs_flagged"] for r in got] == [row in rows for row, _, _ in expected]
            assert all(r["cs_run_id"] == 1 for r in got)
            assert all((r["cs_score"] is not None) >= r["cs_flagged"] for r in got)
        entry = next(e for e in manifest["shards"] if e["output"] == output_name(name, fmt))
        assert entry["written"] == len(expected) and entry["flagged"] == len(rows)


@pytest.mark.parametrize("mode", ["drop", "keep"])
def test_jsonl_lines_are_copied_verbatim(scanned, tmp_path: Path, mode: str):
    corpus, db = scanned
    filter_shards(db, tmp_path / "out", mode=mode, fmt="jsonl.gz")
    flagged = flagged_by_shard(corpus, db)
    for name in ("news/a.jsonl", "news/b.jsonl.gz"):
        keep = [row for row, _, _ in _expected(corpus, name, flagged[name], mode)]
        expected = [corpus.lines[name][row] for row in keep]
        assert output_lines(tmp_path / "out" / output_name(name, "jsonl.gz")) == expected
    # odd spacing and the CRLF line survive byte for byte
    drop_a = output_lines(tmp_path / "out" / "news/a.jsonl.gz")
    if mode == "drop":
        assert any(b",   " in line for line in drop_a)
        assert any(line.endswith(b"\r") for line in drop_a)


def test_annotate_jsonl_splices_fields_into_original_lines(scanned, tmp_path: Path):
    corpus, db = scanned
    filter_shards(db, tmp_path / "out", mode="annotate", fmt="jsonl.gz")
    lines = output_lines(tmp_path / "out" / "news/a.jsonl.gz")
    for line, original in zip(lines, corpus.lines["news/a.jsonl"], strict=True):
        assert line.startswith(original.rstrip()[:-1])  # the original bytes, then cs_* fields
        rec = json.loads(line)
        assert set(rec) >= {"cs_score", "cs_flagged", "cs_category", "cs_stance", "cs_run_id"}
    scores = [json.loads(line)["cs_score"] for line in lines]
    con = duckdb.connect(str(db), read_only=True)
    stored = dict(
        con.execute(
            "SELECT row, score FROM candidates c JOIN shards s USING (run_id, shard_id) "
            "WHERE s.path LIKE '%a.jsonl'"
        ).fetchall()
    )
    con.close()
    assert scores == [stored.get(i) for i in range(len(lines))]


def test_parquet_from_json_records_keeps_every_field(scanned, tmp_path: Path):
    corpus, db = scanned
    filter_shards(db, tmp_path / "out", mode="annotate", fmt="parquet")
    table = pq.read_table(tmp_path / "out" / "news/a.parquet")
    assert table.schema.field("score").type == "double"  # int + float
    assert table.schema.field("mixed").type == "string"  # int + str: JSON text
    rows = table.to_pylist()
    for got, (_, rec, text) in zip(rows, corpus.docs["news/a.jsonl"], strict=True):
        assert got["text"] == text and type(got["text"]) is str
        for key, value in rec.items():
            if key == "mixed":
                assert got[key] == (value if isinstance(value, str) else json.dumps(value))
            else:
                assert without_nulls(got[key]) == without_nulls(value), key
        for key in set(got) - set(rec):
            assert key.startswith("cs_") or got[key] is None  # missing fields are null


def test_parquet_input_keeps_schema_and_rows(scanned, tmp_path: Path):
    corpus, db = scanned
    filter_shards(db, tmp_path / "out", mode="drop", fmt="parquet")
    source = pq.read_table(corpus.root / "tables/c.parquet")
    out = pq.read_table(tmp_path / "out" / "tables/c.parquet")
    assert out.schema.equals(source.schema, check_metadata=True)
    flagged = flagged_by_shard(corpus, db)["tables/c.parquet"]
    rows = source.to_pylist()
    keep = [row for row, _, _ in corpus.docs["tables/c.parquet"] if row not in flagged]
    assert out.to_pylist() == [rows[i] for i in keep]  # the null-text row (bad) is not written


def test_csv_and_txt_fields(scanned, tmp_path: Path):
    corpus, db = scanned
    filter_shards(db, tmp_path / "out", mode="annotate", fmt="jsonl.gz")
    got = read_output(tmp_path / "out" / "tables/d.jsonl.gz")
    expected = [rec for _, rec, _ in corpus.docs["tables/d.csv"]]
    assert [{k: r[k] for k in expected[0]} for r in got] == expected
    (story,) = read_output(tmp_path / "out" / "story.jsonl.gz")
    assert set(story) - {n for n in story if n.startswith("cs_")} == {"id", "text", "url"}
    assert story["text"] == corpus.docs["story.txt"][0][2] and story["cs_flagged"] is True
