"""What a worker hands back for one shard: counts plus column lists, ready for one transaction.

Workers never open the database (DuckDB allows one writer per file); they fill these columns
(named and typed by the Arrow schemas below, which mirror the tables) and the single owning
process commits them, so a killed scan leaves either a whole shard or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from corpus_scan.documents import Source

SPAN_TYPE = pa.struct(
    [("kind", pa.string()), ("term", pa.string()), ("start", pa.int32()), ("end", pa.int32())]
)

CANDIDATE_SCHEMA = pa.schema(
    [
        ("run_id", pa.int32()),
        ("shard_id", pa.int32()),
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("doc_id", pa.string()),
        ("url", pa.string()),
        ("n_chars", pa.int64()),
        ("terms", pa.list_(pa.string())),
        ("spans", pa.list_(SPAN_TYPE)),
        ("n_pairs", pa.int32()),
        ("evidence", pa.string()),
        ("evidence_start", pa.int32()),
        ("lexical_score", pa.float64()),
        ("score", pa.float64()),
        ("flagged", pa.bool_()),
        ("category", pa.string()),
        ("stance", pa.string()),
        ("stage", pa.string()),
    ]
)

PASSAGE_SCHEMA = pa.schema(
    [
        ("run_id", pa.int32()),
        ("shard_id", pa.int32()),
        ("row", pa.int64()),
        ("passage", pa.int32()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("text", pa.string()),
        ("score", pa.float64()),
        ("embedding", pa.list_(pa.float32())),
    ]
)

BAD_SCHEMA = pa.schema(
    [
        ("run_id", pa.int32()),
        ("shard_id", pa.int32()),
        ("row", pa.int64()),
        ("line", pa.int64()),
        ("reason", pa.string()),
        ("skipped", pa.bool_()),
    ]
)

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
    candidates: dict[str, list] = field(default_factory=lambda: _empty(CANDIDATE_SCHEMA))
    passages: dict[str, list] = field(default_factory=lambda: _empty(PASSAGE_SCHEMA))
    bad: dict[str, list] = field(default_factory=lambda: _empty(BAD_SCHEMA))

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


def _empty(schema: pa.Schema) -> dict[str, list]:
    return {name: [] for name in schema.names if name != "run_id"}
