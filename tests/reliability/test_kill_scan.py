"""A scan with two workers and split shards, SIGKILLed at random points, then resumed, equals an
uninterrupted scan; killing the scanning process leaves no worker running; an error in the
scanning process stops the worker pool at once."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from corpus_fixtures import tables
from reliability_helpers import ENV, TINY, corpus, driver, run, scan_args, session_pids

import corpus_scan.run.scan as scan_module
from corpus_scan.documents import ReadOptions
from corpus_scan.run.scan import scan
from corpus_scan.store import db as db_module
from corpus_scan.store.query import sql

OPTS = ReadOptions(batch_size=500)
SPLIT_ENV = {**ENV, "CS_UNIT_BYTES": str(100_000)}  # every shard (~300 KB) in 2 parts


def _driver(corpus_dir: Path, db: Path) -> list[str]:
    return driver(scan_args(corpus_dir, db, "--workers", "2", "--batch-size", "500", tiny=True))


def _wait_gone(sid: int, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := session_pids(sid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_sigkill_two_workers_split_shards_then_resume(tmp_path: Path) -> None:
    root = corpus(tmp_path / "corpus", n_shards=8, n_docs=3000, gz=False)
    whole = tmp_path / "whole.duckdb"
    t0 = time.monotonic()
    done = run(_driver(root, whole), env=SPLIT_ENV)  # uninterrupted, same splitting
    duration = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-3000:]

    cut = tmp_path / "cut.duckdb"
    rng = random.Random(11)
    kills = 0
    for _ in range(4):
        proc = subprocess.Popen(
            _driver(root, cut),
            env=SPLIT_ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # the scan and its workers share a session id: its pid
        )
        time.sleep(rng.uniform(0.35, 0.75) * duration)
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        kills += 1
        proc.wait()
        # workers of a killed scan do not linger (they may finish the unit in hand)
        assert _wait_gone(proc.pid, 30) == []
    final = run(_driver(root, cut), env=SPLIT_ENV)
    assert final.returncode == 0, final.stderr[-3000:]
    assert kills >= 2  # otherwise the test proved little
    got, want = tables(cut), tables(whole)
    assert got["shards"] == want["shards"]
    assert got["candidates"] == want["candidates"]
    assert got["bad"] == want["bad"]
    dup = sql("SELECT count(*) - count(DISTINCT (run_id, doc_id)) FROM candidates", cut).rows
    assert dup == [(0,)]
    runs = sql("SELECT count(*), min(status) FROM runs", cut).rows
    assert runs == [(1, "done")]  # every re-run resumed the same run


def test_error_in_the_scanning_process_stops_the_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = corpus(tmp_path / "corpus", n_shards=6, n_docs=1500)
    whole = tmp_path / "whole.duckdb"
    scan([str(root)], whole, detector=TINY)

    cut = tmp_path / "cut.duckdb"
    real_commit = db_module.Store.commit_shards
    calls = {"n": 0}

    def dying_commit(self, run_id, results):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second shard is being committed
        real_commit(self, run_id, results)

    monkeypatch.setattr(scan_module, "GROUP_SHARDS", 1)  # one commit per shard
    monkeypatch.setattr(db_module.Store, "commit_shards", dying_commit)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        scan([str(root)], cut, detector=TINY, workers=2)
    assert time.monotonic() - t0 < 60
    deadline = time.monotonic() + 10
    while mp.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mp.active_children() == []  # workers were stopped, not left running
    assert sql("SELECT status FROM runs", cut).rows == [("interrupted",)]
    monkeypatch.setattr(db_module.Store, "commit_shards", real_commit)
    resumed = scan([str(root)], cut, detector=TINY, workers=2)
    assert resumed.resumed and resumed.status == "done"
    assert tables(cut) == tables(whole)


def test_ctrl_c_to_the_whole_group_prints_one_line_and_resumes(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the scan and its workers at once: the scan prints its one
    interrupted line (exit 130), workers print no tracebacks of their own and do not linger."""
    root = corpus(tmp_path / "corpus", n_shards=8, n_docs=3000, gz=False)
    db = tmp_path / "x.duckdb"
    pause = tmp_path / "pause"
    pause.touch()  # the scan waits after its first commit, its workers up: mid-scan for sure
    argv = scan_args(root, db, "--workers", "2", "--batch-size", "500", tiny=True)
    proc = subprocess.Popen(driver(argv), env={**SPLIT_ENV, "CS_PAUSE_FILE": str(pause)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    ready = Path(f"{pause}.ready")
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), proc.communicate(timeout=60)[1][-3000:]
    assert len(session_pids(proc.pid)) >= 3  # the scan and both workers
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-3000:]
    lines = [x for x in stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0] and "SIGINT" in lines[0], stderr[-3000:]
    assert _wait_gone(proc.pid, 30) == []
    assert sql("SELECT status FROM runs", db).rows == [("interrupted",)]
    assert list(tmp_path.glob(".x.duckdb.spill-*")) == []  # the scan removed its spill folder
    pause.unlink()
    resumed = run(argv, env=SPLIT_ENV)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert sql("SELECT count(*), min(status) FROM runs", db).rows == [(1, "done")]
