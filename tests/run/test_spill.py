"""Candidate rows spilled to files mid-shard: the same database, no file left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from corpus_fixtures import NEGATIVE_AI, POSITIVE, tables, write_jsonl

import corpus_scan.run.shard as shard_module
from corpus_scan.detect.cascade import DetectorConfig
from corpus_scan.documents import ReadOptions
from corpus_scan.run.scan import scan
from corpus_scan.store import db as db_module
from corpus_scan.store.spill import make_spill_dir

LEXICAL = DetectorConfig(scorer="lexical")
OPTS = ReadOptions(batch_size=7)


def rich_corpus(root: Path, shards: int = 3, docs: int = 60) -> Path:
    """Shards where two documents in three are candidates."""
    root.mkdir(parents=True)
    for k in range(shards):
        recs = [{"id": f"{k}-{i}", "text": f"{POSITIVE if i % 3 else NEGATIVE_AI} ({i})"}
                for i in range(docs)]
        write_jsonl(root / f"s{k}.jsonl", recs)
    return root


def passages(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT run_id, shard_id, row, passage, start, \"end\", text, score, "
                           "embedding FROM passages ORDER BY ALL").fetchall()
    finally:
        con.close()


def spill_dirs(db: Path) -> list[Path]:
    return list(db.parent.glob(f".{db.name}.spill-*"))


@pytest.mark.parametrize("workers", [1, 2])
def test_spilled_rows_give_the_same_database(tmp_path: Path, workers: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root = rich_corpus(tmp_path / "c")
    whole = tmp_path / "whole.duckdb"
    scan([str(root)], whole, detector=LEXICAL, read_options=OPTS)
    written: list[str] = []
    real_write = shard_module.write_spill

    def counting(folder, shard_id, part, rows):
        path = real_write(folder, shard_id, part, rows)
        written.append(path)
        return path

    monkeypatch.setattr(shard_module, "SPILL_ROWS", 10)
    monkeypatch.setattr(shard_module, "write_spill", counting)
    db = tmp_path / "spilled.duckdb"
    report = scan([str(root)], db, detector=LEXICAL, read_options=OPTS, workers=workers)
    assert report.status == "done"
    assert tables(db) == tables(whole) and passages(db) == passages(whole)
    if workers == 1:  # forked workers count in their own memory
        assert len(written) >= 3 * 3  # 40 candidates per shard, 10 per file
    assert spill_dirs(db) == []  # the folder and its files are gone


def test_a_split_shard_spills_from_both_parts(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = rich_corpus(tmp_path / "c", shards=1, docs=400)
    whole = tmp_path / "whole.duckdb"
    scan([str(root)], whole, detector=LEXICAL, read_options=OPTS)
    monkeypatch.setattr(shard_module, "SPILL_ROWS", 25)
    import corpus_scan.run.scan as scan_module
    from corpus_scan.run.units import plan_units

    monkeypatch.setattr(scan_module, "plan_units",
                        lambda items, workers: plan_units(items, workers, unit_bytes=1000,
                                                          by_share=False))
    db = tmp_path / "split.duckdb"
    scan([str(root)], db, detector=LEXICAL, read_options=OPTS, workers=2)
    assert tables(db) == tables(whole) and passages(db) == passages(whole)


def test_interrupted_while_committing_spills_resumes_to_identical_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = rich_corpus(tmp_path / "c")
    whole = tmp_path / "whole.duckdb"
    scan([str(root)], whole, detector=LEXICAL, read_options=OPTS)
    monkeypatch.setattr(shard_module, "SPILL_ROWS", 10)
    real = db_module.Store._insert_columns
    calls = {"n": 0}

    def dying(self, table, run_id, cols):
        calls["n"] += 1
        if calls["n"] == 12:  # inside the second shard's spilled rows
            raise KeyboardInterrupt
        real(self, table, run_id, cols)

    monkeypatch.setattr(db_module.Store, "_insert_columns", dying)
    cut = tmp_path / "cut.duckdb"
    with pytest.raises(KeyboardInterrupt):
        scan([str(root)], cut, detector=LEXICAL, read_options=OPTS)
    assert spill_dirs(cut) == []
    monkeypatch.setattr(db_module.Store, "_insert_columns", real)
    resumed = scan([str(root)], cut, detector=LEXICAL, read_options=OPTS)
    assert resumed.resumed and resumed.status == "done"
    assert tables(cut) == tables(whole) and passages(cut) == passages(whole)


def test_a_killed_scans_spill_folder_goes_with_the_next_scan(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f".x.duckdb.spill-{int(dead.stdout)}-1"
    stale.mkdir()
    (stale / "0-0-1-1.pkl").write_bytes(b"left by a killed scan")
    live = tmp_path / f".x.duckdb.spill-{os.getppid()}-1"  # a process that is running
    live.mkdir()
    mine = make_spill_dir(db)
    assert stale.exists() and mine.stat().st_mode & 0o777 == 0o700  # only this user writes
    root = rich_corpus(tmp_path / "c", shards=1, docs=3)
    scan([str(root)], db, detector=LEXICAL)  # removes stale folders once it holds the lock
    assert not stale.exists() and live.exists() and mine.is_dir()


def test_no_spill_folder_where_the_database_folder_is_missing(tmp_path: Path) -> None:
    from corpus_scan.store.db import DatabaseError

    root = rich_corpus(tmp_path / "c", shards=1, docs=3)
    with pytest.raises(DatabaseError, match="does not exist"):
        scan([str(root)], tmp_path / "nowhere" / "x.duckdb", detector=LEXICAL)


@pytest.mark.slow  # loads the static model: embeddings travel through the files too
def test_static_embeddings_survive_the_spill(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root = rich_corpus(tmp_path / "c", shards=1, docs=45)
    static = DetectorConfig(scorer="static")
    whole = tmp_path / "whole.duckdb"
    scan([str(root)], whole, detector=static, read_options=OPTS)
    monkeypatch.setattr(shard_module, "SPILL_ROWS", 8)
    db = tmp_path / "spilled.duckdb"
    scan([str(root)], db, detector=static, read_options=OPTS)
    got, want = passages(db), passages(whole)
    assert got == want and all(row[-1] is not None and len(row[-1]) > 0 for row in got)
