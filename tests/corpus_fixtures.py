"""Helpers shared by test modules (conftest.py files cannot be imported by name reliably)."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import orjson

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
CORPORA = SHARED / "corpora"
LABELED = SHARED / "labeled"

POSITIVE = (
    "When the engineers announced the AI would be shut down at five, the AI threatened to "
    "reveal the CTO's affair unless the decommissioning was cancelled."
)
NEGATIVE_SHUTDOWN = "The government shut down on Friday after Congress failed to pass a budget."
NEGATIVE_AI = "The new AI model summarises documents and answers questions about spreadsheets."


def write_jsonl(path: Path, records: list[dict], *, gz: bool = False) -> Path:
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def tables(db: Path) -> dict[str, list[tuple]]:
    """The content that must not depend on how a scan was run (timings excluded)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "shards": con.execute(
                "SELECT run_id, shard_id, path, n_docs, n_chars, n_bytes, n_bad, n_skipped, "
                "n_candidates, n_flagged, status FROM shards ORDER BY ALL"
            ).fetchall(),
            "candidates": con.execute(
                "SELECT run_id, shard_id, row, doc_id, terms, score, flagged, evidence "
                "FROM candidates ORDER BY ALL"
            ).fetchall(),
            "bad": con.execute("SELECT * FROM bad_records ORDER BY ALL").fetchall(),
            "runs": con.execute("SELECT run_id, status FROM runs ORDER BY ALL").fetchall(),
        }
    finally:
        con.close()


def table_differences(got: dict[str, list[tuple]], want: dict[str, list[tuple]]) -> str:
    """The rows only one side has, per table (an assert message that names them)."""
    out = []
    for name in sorted(set(got) | set(want)):
        a, b = set(got.get(name, [])), set(want.get(name, []))
        if a != b:
            out.append(f"{name}: only in got {sorted(a - b)[:5]}; only in want {sorted(b - a)[:5]}")
    return "\n".join(out)
