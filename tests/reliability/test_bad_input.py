"""Bad input end to end, through `scan()` and the CLI: every problem is counted and reported
with its file (and line, where the format has lines), never silently dropped; a failed shard
makes the CLI exit with code 1."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from bad_corpus import EXPECT, Expect, build
from corpus_fixtures import POSITIVE, write_jsonl
from reliability_helpers import LEXICAL, run, run_measured, scan_args

from corpus_scan.run.scan import ScanReport, scan
from corpus_scan.shards import filter_shards
from corpus_scan.store.query import sql

Scanned = tuple[Path, Path, ScanReport]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    base = tmp_path_factory.mktemp("bad")
    root = build(base / "corpus")
    db = base / "bad.duckdb"
    return root, db, scan([str(root)], db, detector=LEXICAL)


def _rows(db: Path, query: str, *args: object) -> list[tuple]:
    return sql(query.format(*args), db).rows


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_each_bad_input_is_recorded(scanned: Scanned, name: str) -> None:
    root, db, _ = scanned
    want: Expect = EXPECT[name]
    path = str(root / name)
    if want.status is None:  # not read: listed with its reason
        reasons = _rows(db, "SELECT reason FROM skipped_inputs WHERE path = '{}'", path)
        assert len(reasons) == 1, reasons
        assert all(m in reasons[0][0] for m in want.message), reasons
        return
    [shard] = _rows(
        db,
        "SELECT shard_id, status, n_docs, n_bad, n_skipped, error FROM shards WHERE path = '{}'",
        path.replace("'", "''"),
    )
    shard_id, status, n_docs, n_bad, n_skipped, error = shard
    assert status == want.status, error
    bad = _rows(
        db,
        "SELECT row, line, reason, skipped FROM bad_records WHERE shard_id = {} ORDER BY row",
        shard_id,
    )
    assert [(r, line) for r, line, _, _ in bad] == [(r, line) for r, line, _ in want.bad]
    for (_, _, reason, _), (_, _, fragment) in zip(bad, want.bad, strict=True):
        assert fragment in reason
    assert n_bad == sum(not s for *_, s in bad) and n_skipped == want.n_skipped
    assert n_skipped == sum(s for *_, s in bad)
    if want.n_docs is None:  # a broken stream: exactly the complete lines before the break
        line = int(re.search(r"at line (\d+)", error).group(1))
        assert n_docs == line - 1 > 0
    else:
        assert n_docs == want.n_docs
    if status == "failed":
        assert error.startswith(path) and "\n" not in error
        assert all(m in error for m in want.message), error
    else:
        assert error is None
    cands = _rows(db, "SELECT row FROM candidates WHERE shard_id = {} ORDER BY row", shard_id)
    assert tuple(r for (r,) in cands) == want.candidate_rows


def test_every_line_is_a_document_or_a_bad_record(scanned: Scanned) -> None:
    root, db, report = scanned
    for name in ("records.jsonl", "news ünïcode 新闻 (1).jsonl", "blank-lines.jsonl"):
        lines = [ln for ln in (root / name).read_bytes().split(b"\n") if ln.strip()]
        [(n_docs, n_bad)] = _rows(
            db, "SELECT n_docs, n_bad FROM shards WHERE path = '{}'", root / name
        )
        assert n_docs + n_bad == len(lines), name
    t = report.totals
    sums = _rows(db, "SELECT sum(n_docs), sum(n_bad), sum(n_skipped), count(*) FROM shards")
    assert sums == [(t["n_docs"], t["n_bad"], t["n_skipped"], t["n_shards"])]
    assert t["n_failed"] == len(report.failed) == 5
    assert len(report.skipped) == 4


def test_cli_reports_failed_and_skipped_inputs_and_exits_1(scanned: Scanned) -> None:
    root, db, report = scanned
    cli_db = db.parent / "cli.duckdb"
    proc = run(scan_args(root, cli_db, "--workers", "1", tiny=True))
    assert proc.returncode == 1, proc.stderr[-3000:]
    out = proc.stdout
    assert "(incomplete)" in out
    failed = [ln for ln in out.splitlines() if ln.startswith("failed: ")]
    assert len(failed) == 5
    for path, _ in report.failed:
        assert sum(ln.startswith(f"failed: {path}") for ln in failed) == 1, path
    for skipped in report.skipped:
        assert f"skipped: {skipped.path}: {skipped.reason}" in out
    assert "bad records" in out and "bad_records" in out  # how to list them
    # the same scan again retries the failed shards only, and still exits 1
    again = run(scan_args(root, cli_db, "--workers", "1", "--json", tiny=True))
    assert again.returncode == 1
    summary = json.loads(again.stdout)
    assert summary["status"] == "incomplete" and summary["resumed"] is True
    assert summary["shards_scanned_now"] == 5 and len(summary["failed"]) == 5
    assert summary["n_docs"] == report.totals["n_docs"]  # nothing counted twice


def test_names_with_spaces_and_unicode_scan_and_filter(tmp_path: Path) -> None:
    root = tmp_path / "dossier été"
    (root / "sous dossier ß").mkdir(parents=True)
    names = ["a b.jsonl", "sous dossier ß/日本語 'quote'.jsonl", "ü#%.jsonl"]
    for i, name in enumerate(names):
        write_jsonl(root / name, [{"id": f"{i}", "text": POSITIVE}, {"text": "plain"}])
    db = tmp_path / "x y.duckdb"
    assert scan([str(root)], db, detector=LEXICAL).status == "done"
    stored = sorted(p for (p,) in sql("SELECT path FROM shards", db).rows)
    assert stored == sorted(str(root / n) for n in names)
    report = filter_shards(db, tmp_path / "out ü", fmt="parquet")
    outputs = sorted(e["output"] for e in report.shards)
    assert outputs == sorted(n.replace(".jsonl", ".parquet") for n in names)
    for name in outputs:
        assert pq.read_table(tmp_path / "out ü" / name).num_rows == 1  # the hit was dropped


def test_a_100_mb_document_is_scanned_and_counted(tmp_path: Path) -> None:
    filler = "lorem ipsum dolor sit amet " * (50_000_000 // 27)
    huge = filler + POSITIVE + filler
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as fh:
        fh.write(orjson.dumps({"id": "before", "text": "small"}) + b"\n")
        fh.write(orjson.dumps({"id": "huge", "text": huge}) + b"\n")
        fh.write(orjson.dumps({"id": "after", "text": POSITIVE}) + b"\n")
    assert path.stat().st_size > 100_000_000
    db = tmp_path / "x.duckdb"
    done = run_measured(scan_args(path, db, "--workers", "1", "--json"), tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["n_docs"] == 3 and summary["n_bad"] == 0
    assert summary["n_chars"] == len(huge) + len("small") + len(POSITIVE)
    assert summary["n_candidates"] == 2
    rows = sql("SELECT doc_id, n_chars, evidence FROM candidates ORDER BY row", db).rows
    assert rows[0][:2] == ("huge", len(huge)) and "threatened" in rows[0][2]
    assert len(rows[0][2]) < 2000  # the evidence is a window, not the document
    assert done.seconds < 90
    # memory: a few copies of the document (chunks, joined line, str, UTF-8 bytes), not an
    # explosion; measured 460-1,620 MB for the whole process tree depending on the machine's
    # allocator state, so the bound is the project's 2 GB budget
    assert done.peak_mb < 2000, f"peak RSS {done.peak_mb:.0f} MB for a 100 MB document"
