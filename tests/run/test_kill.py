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
