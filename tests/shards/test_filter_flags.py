"""What counts as flagged: a new threshold (no rescan), the triaged_hits hook; upsampling."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from shards_helpers import flagged_by_shard, read_output

from corpus_scan.atomic import file_sha256
from corpus_scan.documents import InputError
from corpus_scan.shards import filter_shards, flagged_rows


def _counts(report) -> tuple[int, int, int]:
    t = report.totals
    return t["flagged"], t["written"], t["dropped"]


def test_new_threshold_needs_no_rescan(scanned, tmp_path: Path):
    corpus, db = scanned
    before = file_sha256(db)
    default = filter_shards(db, tmp_path / "a")
    strict = filter_shards(db, tmp_path / "b", threshold=0.7)
    loose = filter_shards(db, tmp_path / "c", threshold=0.0)
    none = filter_shards(db, tmp_path / "d", threshold=1.0)  # no score reaches 1
    assert file_sha256(db) == before  # the database is only read
    n_docs = default.totals["input_docs"]
    n_cands = sum(e["flagged"] for e in loose.shards)
    high = sum(len(r) for r in flagged_by_shard(corpus, db, 0.7).values())
    assert _counts(default) == (13, n_docs - 13, 13)
    assert _counts(strict) == (high, n_docs - high, high) and 0 < high < 13
    assert n_cands == 13  # threshold 0: every candidate (all scored >= 0.5 here)
    assert _counts(none) == (0, n_docs, 0)
    assert strict.threshold == 0.7 and strict.flag_rule == "score >= 0.7"
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["threshold"] == 0.7
    # the flagged documents under 0.7 are exactly the stored candidates with score >= 0.7
    texts = [r["text"] for r in read_output(tmp_path / "b" / "news/a.parquet")]
    rows = flagged_by_shard(corpus, db, 0.7)["news/a.jsonl"]
    assert texts == [t for row, _, t in corpus.docs["news/a.jsonl"] if row not in rows]


def test_triaged_hits_view_decides_without_threshold(scanned, tmp_path: Path):
    corpus, db = scanned
    con = duckdb.connect(str(db))
    # triage keeps one hit of news/a.jsonl (row 0) and adds a non-candidate (row 1)
    con.execute(
        "CREATE OR REPLACE VIEW triaged_hits AS "
        "SELECT c.run_id, c.shard_id, c.row, 'on-topic' AS topic "
        "FROM candidates c JOIN shards s USING (run_id, shard_id) "
        "WHERE s.path LIKE '%a.jsonl' AND c.row = 0 "
        "UNION ALL SELECT run_id, shard_id, 1, 'added' FROM shards WHERE path LIKE '%a.jsonl'"
    )
    con.close()
    con = duckdb.connect(str(db), read_only=True)
    assert flagged_rows(con, 1) == {(0, 0), (0, 1)}
    assert len(flagged_rows(con, 1, threshold=0.5)) == 13  # an explicit threshold wins
    con.close()
    report = filter_shards(db, tmp_path / "out", mode="keep", fmt="jsonl.gz")
    assert report.flag_rule == "triaged_hits"
    assert [r["id"] for r in read_output(tmp_path / "out" / "news/a.jsonl.gz")] == ["a0", "a1"]
    assert report.totals["written"] == 2
    explicit = filter_shards(db, tmp_path / "t", mode="keep", threshold=0.5)
    assert explicit.totals["written"] == 13


def test_triaged_hits_with_wrong_columns_is_refused(scanned, tmp_path: Path):
    _, db = scanned
    con = duckdb.connect(str(db))
    con.execute("CREATE OR REPLACE VIEW triaged_hits AS SELECT shard_id, row FROM candidates")
    con.close()
    with pytest.raises(InputError, match="triaged_hits lacks column"):
        filter_shards(db, tmp_path / "out")


def test_triaged_row_that_is_no_document_is_refused(scanned, tmp_path: Path):
    _, db = scanned
    con = duckdb.connect(str(db))
    con.execute("DROP VIEW hits")
    con.execute("DROP VIEW triaged_hits")
    con.execute("CREATE TABLE triaged_hits AS SELECT 1 AS run_id, 0 AS shard_id, 999 AS row")
    con.close()
    with pytest.raises(InputError, match="flagged"):
        filter_shards(db, tmp_path / "out")
    assert not list((tmp_path / "out").rglob("*.parquet"))


@pytest.mark.parametrize("fmt", ["parquet", "jsonl.gz"])
def test_upsample_accepting(scanned, tmp_path: Path, fmt: str):
    corpus, db = scanned
    con = duckdb.connect(str(db))
    # pretend the scorer judged the mild candidates (score < 0.7) to accept shutdown
    con.execute("UPDATE candidates SET stance = 'accepts', category = 'news' WHERE score < 0.7")
    n_accepting = con.execute("SELECT count(*) FROM candidates WHERE score < 0.7").fetchall()
    con.close()
    (n_accepting,) = n_accepting[0]
    report = filter_shards(db, tmp_path / "out", threshold=0.7, fmt=fmt, upsample_accepting=3)
    t = report.totals
    assert t["duplicated"] == 2 * n_accepting
    assert t["written"] == t["input_docs"] - t["dropped"] + t["duplicated"]
    ext = ".parquet" if fmt == "parquet" else ".jsonl.gz"
    ids = [r["id"] for r in read_output(tmp_path / "out" / f"news/a{ext}")]
    expected = []
    for row in range(12):
        if row in (0, 5):  # HIT: flagged at 0.7, dropped
            continue
        expected += [f"a{row}"] * (3 if row in (2, 9) else 1)  # MILD: accepting, x3
    assert ids == expected  # copies are consecutive, order kept
    # annotate upsamples too; flagged documents (all candidates at the run's 0.5) never are
    annotated = filter_shards(
        db, tmp_path / "ann", mode="annotate", threshold=0.7, upsample_accepting=3
    )
    assert annotated.totals["duplicated"] == 2 * n_accepting
    at_run = filter_shards(db, tmp_path / "run", mode="annotate", upsample_accepting=3)
    assert at_run.totals["duplicated"] == 0
    with pytest.raises(InputError, match="upsample"):
        filter_shards(db, tmp_path / "k", mode="keep", upsample_accepting=3)


def test_bad_arguments_are_refused(scanned, tmp_path: Path):
    _, db = scanned
    for kwargs, match in [
        ({"mode": "remove"}, "unknown mode"),
        ({"fmt": "csv"}, "unknown format"),
        ({"threshold": float("nan")}, "threshold"),
        ({"upsample_accepting": -1}, "upsample"),
        ({"run_id": 7}, "run 7"),
    ]:
        with pytest.raises(InputError, match=match):
            filter_shards(db, tmp_path / "out", **kwargs)
    with pytest.raises(InputError, match="no such database"):
        filter_shards(tmp_path / "missing.duckdb", tmp_path / "out")
