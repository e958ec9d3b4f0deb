"""A scan SIGKILLed at random points, then re-run, equals an uninterrupted scan."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from corpus_fixtures import NEGATIVE_AI, NEGATIVE_SHUTDOWN, POSITIVE, tables, write_jsonl


def _corpus(root: Path) -> Path:
    root.mkdir()
    texts = [POSITIVE, NEGATIVE_SHUTDOWN, NEGATIVE_AI, "plain text " * 50]
    for k in range(12):
        recs = [{"id": f"{k}-{i}", "text": texts[i % 4] + f" ({i})"} for i in range(6000)]
        write_jsonl(root / f"shard-{k:02d}.jsonl.gz", recs, gz=True)
    return root


def _scan_cmd(corpus: Path, db: Path) -> list[str]:
    return [
        sys.executable, "-m", "corpus_scan.cli", "scan", str(corpus), "--db", str(db),
        "--detector", "lexical", "--workers", "1", "--no-progress",
    ]


def test_sigkill_at_random_points_then_resume(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    whole = tmp_path / "whole.duckdb"
    subprocess.run(_scan_cmd(corpus, whole), check=True, env=env, capture_output=True)

    cut = tmp_path / "cut.duckdb"
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        proc = subprocess.Popen(_scan_cmd(corpus, cut), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 3.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    final = subprocess.run(_scan_cmd(corpus, cut), env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert kills >= 1  # otherwise the test proved nothing
    got, want = tables(cut), tables(whole)
    assert got["shards"] == want["shards"] and got["candidates"] == want["candidates"]
    dup = subprocess.run(
        [sys.executable, "-m", "corpus_scan.cli", "sql", "--format", "csv", "--db", str(cut),
         "SELECT count(*) - count(DISTINCT (run_id, doc_id)) FROM candidates"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert dup.stdout.splitlines()[1] == "0"


def test_sigterm_marks_the_run_interrupted_then_resumes(tmp_path: Path) -> None:
    """SIGTERM (a scheduler's stop, `kill PID`) ends the scan like Ctrl-C: one line on stderr,
    exit 128 + 15, the run marked `interrupted` (not left `running`), and a re-run resumes."""
    import duckdb

    corpus = _corpus(tmp_path / "corpus")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    db = tmp_path / "cut.duckdb"
    cmd = _scan_cmd(corpus, db)
    cmd[cmd.index("--workers") + 1] = "2"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while not db.exists() and time.monotonic() < deadline:  # the run has started
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "scan interrupted" in stderr and "(SIGTERM)" in stderr and "Traceback" not in stderr
    con = duckdb.connect(str(db), read_only=True)
    (status,) = con.execute("SELECT status FROM runs").fetchone()
    con.close()
    assert status == "interrupted"
    final = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    whole = tmp_path / "whole.duckdb"
    subprocess.run(_scan_cmd(corpus, whole), check=True, env=env, capture_output=True)
    got, want = tables(db), tables(whole)
    assert got["shards"] == want["shards"] and got["candidates"] == want["candidates"]
