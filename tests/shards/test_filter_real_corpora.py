"""filter over a lexical scan of ../shared/corpora/web-jsonl + narratives (skipped if absent)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from shards_helpers import LEXICAL

from corpus_scan.run.scan import scan
from corpus_scan.shards import filter_shards

pytestmark = pytest.mark.slow

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"


@pytest.fixture(scope="module")
def real_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inputs = [CORPORA / "web-jsonl", CORPORA / "narratives"]
    if not all(p.is_dir() for p in inputs):
        pytest.skip(f"needs the shared corpora at {CORPORA} (../shared/corpora from the repo root)")
    db = tmp_path_factory.mktemp("real") / "scan.duckdb"
    report = scan([str(p) for p in inputs], db, detector=LEXICAL, workers=4)
    assert report.status == "done", report.failed
    return db


def test_counts_match_the_database_and_datasets_loads(real_scan: Path, tmp_path: Path):
    import datasets

    out = tmp_path / "clean"
    report = filter_shards(real_scan, out, fmt="parquet")
    con = duckdb.connect(str(real_scan), read_only=True)
    by_path = {
        r[0]: r[1:]
        for r in con.execute("SELECT path, n_docs, n_bad, n_flagged FROM shards").fetchall()
    }
    web_docs = con.execute("SELECT sum(n_docs) FROM shards WHERE path LIKE '%/web-jsonl/%'")
    (web_docs,) = web_docs.fetchall()[0]
    con.close()
    assert web_docs == 23_726  # every web-jsonl record is a document (empty texts included)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["shards"]) == len(by_path) == report.totals["shards"]
    for entry in manifest["shards"]:
        n_docs, n_bad, n_flagged = by_path[entry["input"]]
        assert (entry["input_docs"], entry["bad_records"]) == (n_docs, n_bad)
        assert entry["flagged"] == entry["dropped"] == n_flagged
        assert entry["written"] == n_docs - n_flagged
        if entry["written"]:
            assert pq.ParquetFile(out / entry["output"]).metadata.num_rows == entry["written"]
        else:  # e.g. narratives files that are all bad records: no empty file
            assert entry["sha256"] is None and not (out / entry["output"]).exists()
    names = {e["output"] for e in manifest["shards"]}
    assert "web-jsonl/dolma-cc.parquet" in names
    assert any(n.startswith("narratives/") for n in names)
    t = manifest["totals"]
    assert t["written"] == t["input_docs"] - t["dropped"] + t["duplicated"]

    cache = str(tmp_path / "hf_cache")
    for entry in manifest["shards"]:
        if entry["written"] and entry["input"].endswith(("dolma-cc.jsonl.gz", "bbc.jsonl.gz")):
            ds = datasets.load_dataset(
                "parquet", data_files=str(out / entry["output"]), split="train", cache_dir=cache
            )
            assert ds.num_rows == entry["written"] and "text" in ds.column_names

    lines = filter_shards(real_scan, tmp_path / "lines", fmt="jsonl.gz", mode="annotate")
    assert lines.totals["written"] == lines.totals["input_docs"]
    dolma = next(e for e in lines.shards if e["output"] == "web-jsonl/dolma-cc.jsonl.gz")
    ds = datasets.load_dataset(
        "json", data_files=str(tmp_path / "lines" / dolma["output"]), split="train", cache_dir=cache
    )
    assert ds.num_rows == dolma["written"] and sum(ds["cs_flagged"]) == dolma["flagged"]
