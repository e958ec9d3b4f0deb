"""What a worker hands back for one shard: counts plus column lists, ready for one transaction.

Workers never open the database (DuckDB allows one writer per file); they fill the columns
below and the single owning process commits them, so a killed scan leaves either a whole shard
or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus_scan.documents import Source

# Columns of each part, as in the tables of `store.schema`; run_id is added on commit, where
# DuckDB casts each list to its table column's type (`Store._insert_columns`).
CANDIDATE_COLUMNS = (
    "shard_id", "shard", "row", "doc_id", "url", "n_chars", "terms", "spans", "n_pairs",
    "evidence", "evidence_start", "lexical_score", "score", "flagged", "category", "stance",
    "stage",
)  # fmt: skip
PASSAGE_COLUMNS = ("shard_id", "row", "passage", "start", "end", "text", "score", "embedding")
BAD_COLUMNS = ("shard_id", "row", "line", "reason", "skipped")

MAX_BAD_ROWS_KEPT = 1000  # per shard; the exact count is in shards.n_bad


@dataclass
class ShardResult:
    """Everything one shard produced. Row lists are column-oriented dicts of plain lists."""

    shard_id: int
    path: str
    format: str
    compression: str | None
    size_bytes: int | None
    mtime: float | None
    n_docs: int = 0
    n_chars: int = 0
    n_bytes: int = 0
    n_bad: int = 0
    n_skipped: int = 0
    n_candidates: int = 0
    n_flagged: int = 0
    status: str = "done"
    error: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    lost: bool = False  # its worker process died: nothing of the shard may be counted
    candidates: dict[str, list] = field(default_factory=lambda: _empty(CANDIDATE_COLUMNS))
    passages: dict[str, list] = field(default_factory=lambda: _empty(PASSAGE_COLUMNS))
    bad: dict[str, list] = field(default_factory=lambda: _empty(BAD_COLUMNS))
    # files holding earlier candidate/passage rows of this shard (`store.spill`), in order
    spills: list[str] = field(default_factory=list)

    @classmethod
    def for_source(cls, shard_id: int, source: Source, **fields: object) -> ShardResult:
        """An empty result for `source`, carrying its identity (path, format, size, mtime)."""
        return cls(
            shard_id=shard_id,
            path=source.path,
            format=source.format,
            compression=source.compression,
            size_bytes=source.size,
            mtime=source.mtime,
            **fields,  # type: ignore[arg-type]
        )


def _empty(columns: tuple[str, ...]) -> dict[str, list]:
    return {name: [] for name in columns}
