"""A worker process that dies mid-shard (os._exit in a worker, see cli_driver.py) neither hangs
the scan nor half-counts the shard: a one-off death is retried, a repeated one marks the shard
failed with nothing counted, and the next scan redoes it."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from corpus_fixtures import POSITIVE, table_differences, tables
from reliability_helpers import ENV, TINY, driver, run, scan_args

from corpus_scan.documents import ReadOptions
from corpus_scan.run.scan import scan
from corpus_scan.store.query import sql

MARKER = "KILL-THE-WORKER"
OPTS = ReadOptions(batch_size=100)


def _corpus(root: Path) -> Path:
    root.mkdir()
    for k in range(4):
        lines = []
        for i in range(1500):
            text = POSITIVE if i % 5 == 0 else f"an ordinary document number {i}"
            if k == 2 and i == 1234:
                text = f"{MARKER} {text}"
            lines.append(orjson.dumps({"id": f"{k}-{i}", "text": text}))
        (root / f"shard-{k}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return root


def _driver(root: Path, db: Path, **env: str) -> tuple[list[str], dict[str, str]]:
    argv = scan_args(root, db, "--workers", "2", "--batch-size", "100", "--json", tiny=True)
    full_env = {**ENV, "CS_CRASH_MARKER": MARKER, "CS_UNIT_BYTES": "20000", **env}
    return driver(argv), full_env


def _reference(root: Path, tmp_path: Path) -> Path:
    db = tmp_path / "whole.duckdb"
    scan([str(root)], db, read_options=OPTS, detector=TINY, workers=1)
    return db


def test_one_off_worker_death_is_retried(tmp_path: Path) -> None:
    root = _corpus(tmp_path / "corpus")
    token = tmp_path / "crash-once"
    token.touch()
    db = tmp_path / "x.duckdb"
    argv, env = _driver(root, db, CS_CRASH_TOKEN=str(token))
    proc = run(argv, env=env, timeout=180)  # a hang fails here
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not token.exists()  # the worker did die once
    summary = json.loads(proc.stdout)
    assert summary["status"] == "done" and summary["failed"] == []
    got, want = tables(db), tables(_reference(root, tmp_path))
    assert got == want, table_differences(got, want)


def test_one_off_worker_death_after_it_spilled_rows_is_retried(tmp_path: Path) -> None:
    root = _corpus(tmp_path / "corpus")
    token = tmp_path / "crash-once"
    token.touch()
    db = tmp_path / "x.duckdb"
    argv, env = _driver(root, db, CS_CRASH_TOKEN=str(token), CS_SPILL_ROWS="20")
    proc = run(argv, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not token.exists()  # the worker died after writing spill files of its unit
    got, want = tables(db), tables(_reference(root, tmp_path))
    assert got == want, table_differences(got, want)  # the dead worker's files were not used
    assert list(tmp_path.glob(".x.duckdb.spill-*")) == []


def test_repeated_worker_death_fails_the_shard_and_counts_none_of_it(tmp_path: Path) -> None:
    root = _corpus(tmp_path / "corpus")
    db = tmp_path / "x.duckdb"
    argv, env = _driver(root, db)
    proc = run(argv, env=env, timeout=180)
    assert proc.returncode == 1, proc.stderr[-3000:]  # a failed shard: exit code 1
    summary = json.loads(proc.stdout)
    assert summary["status"] == "incomplete"
    [failed] = summary["failed"]
    assert failed["path"] == str(root / "shard-2.jsonl")
    assert "worker process died (exit code 13)" in failed["error"]
    assert "(part 1 of 2)" in failed["error"]  # the split unit that held the marker
    shard = sql(
        "SELECT status, n_docs, n_bad, n_candidates FROM shards WHERE path LIKE '%shard-2.jsonl'",
        db,
    ).rows
    assert shard == [("failed", 0, 0, 0)]  # not half counted: the other part is not kept
    stray = sql("SELECT count(*) FROM candidates WHERE shard LIKE '%shard-2.jsonl'", db).rows
    assert stray == [(0,)]
    ref = _reference(root, tmp_path)
    want = tables(ref)
    got = tables(db)
    assert [s for s in got["shards"] if s[1] != 2] == [s for s in want["shards"] if s[1] != 2]
    assert got["candidates"] == [c for c in want["candidates"] if c[1] != 2]

    # the cause is gone (a plain corpus-scan): the same scan resumes and redoes the shard
    again = run(scan_args(root, db, "--workers", "2", "--batch-size", "100", "--json", tiny=True))
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["resumed"] is True
    assert tables(db) == want
