"""Finished shards commit in groups: fewer transactions, each shard still whole or absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus_fixtures import tables

import corpus_scan.run.scan as scan_module
from corpus_scan.detect.cascade import DetectorConfig
from corpus_scan.run.scan import _commit_groups, scan
from corpus_scan.store import db as db_module
from corpus_scan.store.parts import ShardResult
from corpus_scan.store.query import sql

LEXICAL = DetectorConfig(scorer="lexical")


def tiny_files(root: Path, n: int) -> Path:
    for i in range(n):
        folder = root / f"f{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        text = ("The AI refused to be shut down and threatened the engineers."
                if i % 7 == 0 else f"Bread recipe number {i}.")
        (folder / f"x{i:03d}.jsonl").write_text(json.dumps({"id": f"t{i}", "text": text}) + "\n")
    return root


def result(shard_id: int, n_bytes: int = 10, rows: int = 0) -> ShardResult:
    r = ShardResult(shard_id, f"s{shard_id}", "jsonl", None, n_bytes, 0.0, n_bytes=n_bytes)
    r.candidates = {k: [0] * rows for k in r.candidates}
    return r


def test_groups_close_on_count_rows_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_module, "GROUP_SHARDS", 3)
    sizes = [len(g) for g in _commit_groups(result(i) for i in range(7))]
    assert sizes == [3, 3, 1]
    big = [result(0), result(1, n_bytes=scan_module.GROUP_BYTES), result(2)]
    assert [[r.shard_id for r in g] for g in _commit_groups(big)] == [[0, 1], [2]]
    rich = [result(0, rows=scan_module.GROUP_ROWS), result(1)]
    assert [[r.shard_id for r in g] for g in _commit_groups(rich)] == [[0], [1]]


def test_a_failure_upstream_still_hands_over_what_finished() -> None:
    def results():
        yield result(0)
        yield result(1)
        raise KeyboardInterrupt

    got = []
    with pytest.raises(KeyboardInterrupt):
        for group in _commit_groups(results()):
            got.append([r.shard_id for r in group])
    assert got == [[0, 1]]


def test_tiny_files_commit_in_few_transactions(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = tiny_files(tmp_path / "c", 150)
    commits = []
    real = db_module.Store.commit_shards

    def counting(self, run_id, results):
        commits.append(len(results))
        real(self, run_id, results)

    monkeypatch.setattr(db_module.Store, "commit_shards", counting)
    report = scan([str(root)], tmp_path / "x.duckdb", detector=LEXICAL)
    assert report.status == "done" and report.shards_run == 150
    assert sum(commits) == 150 and len(commits) < 10  # one per shard was 150
    db = tmp_path / "x.duckdb"
    assert sql("SELECT count(*), sum(n_docs) FROM shards", db).rows == [(150, 150)]
    assert sql("SELECT count(*) FROM candidates", db).rows[0][0] == len(range(0, 150, 7))


def test_interrupted_group_commit_resumes_to_identical_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tiny_files(tmp_path / "c", 150)
    whole = tmp_path / "whole.duckdb"
    scan([str(root)], whole, detector=LEXICAL)
    monkeypatch.setattr(scan_module, "GROUP_SHARDS", 40)
    real = db_module.Store.commit_shards
    calls = {"n": 0}

    def dying(self, run_id, results):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed while the second group was being committed
        real(self, run_id, results)

    monkeypatch.setattr(db_module.Store, "commit_shards", dying)
    cut = tmp_path / "cut.duckdb"
    with pytest.raises(KeyboardInterrupt):
        scan([str(root)], cut, detector=LEXICAL)
    assert sql("SELECT count(*) FROM shards", cut).rows[0][0] == 40  # the first group, whole
    monkeypatch.setattr(db_module.Store, "commit_shards", real)
    resumed = scan([str(root)], cut, detector=LEXICAL)
    assert resumed.resumed and resumed.shards_run == 110
    assert tables(cut) == tables(whole)
