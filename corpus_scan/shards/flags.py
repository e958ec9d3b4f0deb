"""Which documents count as flagged, and what the scan stored about each candidate.

Nothing is re-scored: flags come from the stored `candidates` rows, so a new threshold never
needs a rescan. The rule (`flag_query`, used by `flagged_rows` and `load_flags`), first that
applies:

1. an explicit threshold: candidates with `score >= threshold`;
2. a table or view named `triaged_hits` exists in the database: exactly its documents of
   the run. Contract for whoever defines it (topic triage): it has the columns `run_id`,
   `shard_id` and `row` (any others are ignored; duplicates are fine), one row per document
   to treat as flagged. It may drop hits (triaged as off-topic) and add documents.
3. otherwise the scan's own decision: `candidates.flagged` (score >= runs.threshold).

A document is identified by (shard_id, row), as everywhere in the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa

from corpus_scan.documents import InputError

TRIAGE_VIEW = "triaged_hits"
_TRIAGE_COLUMNS = ("run_id", "shard_id", "row")


class Candidate(NamedTuple):
    """What the scan stored about one candidate document."""

    doc_id: str
    score: float
    category: str | None
    stance: str | None


def has_triage(con: duckdb.DuckDBPyConnection) -> bool:
    """True when a `triaged_hits` table or view exists."""
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [TRIAGE_VIEW]
    ).fetchall()
    return bool(rows[0][0])


def flag_query(
    con: duckdb.DuckDBPyConnection, run_id: int, threshold: float | None = None
) -> tuple[str, list, str]:
    """(SQL selecting shard_id, row of the flagged documents, its parameters, the rule in words)."""
    if threshold is not None:
        return (
            "SELECT shard_id, row FROM candidates WHERE run_id = $1 AND score >= $2",
            [run_id, float(threshold)],
            f"score >= {threshold:g}",
        )
    if has_triage(con):
        cur = con.execute(f"SELECT * FROM {TRIAGE_VIEW} LIMIT 0")
        cols = [d[0] for d in cur.description]
        cur.fetchall()
        missing = [c for c in _TRIAGE_COLUMNS if c not in cols]
        if missing:
            raise InputError(
                f"{TRIAGE_VIEW} lacks column(s) {', '.join(missing)} "
                f"(needs {', '.join(_TRIAGE_COLUMNS)}); fix the view or pass --threshold"
            )
        return (
            f"SELECT DISTINCT shard_id, row FROM {TRIAGE_VIEW} WHERE run_id = $1",
            [run_id],
            TRIAGE_VIEW,
        )
    return (
        "SELECT shard_id, row FROM candidates WHERE run_id = $1 AND flagged",
        [run_id],
        "candidates.flagged (score >= the run's threshold)",
    )


def flagged_rows(
    con: duckdb.DuckDBPyConnection, run_id: int, threshold: float | None = None
) -> set[tuple[int, int]]:
    """The (shard_id, row) documents to treat as flagged under the rule in the module doc."""
    query, params, _ = flag_query(con, run_id, threshold)
    return {(int(s), int(r)) for s, r in con.execute(query, params).fetchall()}


@dataclass
class RunFlags:
    """Flags and candidates of one run, held as sorted Arrow columns (compact) and handed
    out per shard as Python containers."""

    rule: str
    digest: str  # sha256 of the sorted flagged (shard_id, row) pairs: identifies the decision
    _flagged: pa.Table = field(repr=False)
    _candidates: pa.Table = field(repr=False)
    _flagged_ids: np.ndarray = field(init=False, repr=False)
    _candidate_ids: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._flagged_ids = _shard_ids(self._flagged)
        self._candidate_ids = _shard_ids(self._candidates)

    @property
    def n_flagged(self) -> int:
        return self._flagged.num_rows

    def flagged(self, shard_id: int) -> set[int]:
        part = _rows_of(self._flagged, self._flagged_ids, shard_id)
        return set(part.column("row").to_pylist())

    def candidates(self, shard_id: int) -> dict[int, Candidate]:
        part = _rows_of(self._candidates, self._candidate_ids, shard_id)
        cols = [part.column(n).to_pylist() for n in ("row", *Candidate._fields)]
        return {row: Candidate(*rest) for row, *rest in zip(*cols, strict=True)}


def stale_triage(con: duckdb.DuckDBPyConnection, run_id: int) -> str | None:
    """A warning when the run's triage marks sit on a topic fit older than its last shard
    commits: documents committed since have no topic, so no mark reaches them."""
    row = con.execute(
        "SELECT f.fitted_at < (SELECT max(finished_at) FROM shards WHERE run_id = $1), "
        "  (SELECT count(*) FROM topic_marks m WHERE m.run_id = $1 AND m.fit_id = f.fit_id) "
        "FROM topic_fits f WHERE f.run_id = $1 ORDER BY f.fit_id DESC LIMIT 1",
        [run_id],
    ).fetchone()
    if not row or not row[0] or not row[1]:
        return None
    return (
        f"run {run_id}'s topic triage was decided on topics fitted before its last shard "
        "commits: documents scanned since are flagged by score alone; run `topics --refit` "
        "and mark again, or pass --threshold"
    )


def load_flags(
    con: duckdb.DuckDBPyConnection, run_id: int, threshold: float | None = None
) -> RunFlags:
    """Everything filtering needs from the database about a run's documents, in one read."""
    query, params, rule = flag_query(con, run_id, threshold)
    flagged = con.sql(f"SELECT * FROM ({query}) ORDER BY shard_id, row", params=params)
    flagged_tbl = flagged.to_arrow_table()
    cands = con.sql(
        "SELECT shard_id, row, doc_id, score, category, stance FROM candidates "
        "WHERE run_id = $1 ORDER BY shard_id, row",
        params=[run_id],
    ).to_arrow_table()
    digest = hashlib.sha256()
    for name in ("shard_id", "row"):
        digest.update(np.asarray(flagged_tbl.column(name).to_numpy(), dtype=np.int64).tobytes())
    return RunFlags(rule, digest.hexdigest(), flagged_tbl, cands)


def _shard_ids(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column("shard_id").to_numpy(), dtype=np.int64)


def _rows_of(table: pa.Table, ids: np.ndarray, shard_id: int) -> pa.Table:
    """The slice of a (shard_id, row)-sorted table belonging to one shard."""
    lo = int(np.searchsorted(ids, shard_id, side="left"))
    hi = int(np.searchsorted(ids, shard_id, side="right"))
    return table.slice(lo, hi - lo)
