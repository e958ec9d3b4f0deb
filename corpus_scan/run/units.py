"""Work units: a big shard is split so that a corpus of a few large files still uses every core.

A unit is (shard, part k of n). Splittable formats read only their part's batches (JSON lines:
every n-th batch of lines, all lines still counted so row numbers stay exact; Parquet: every
n-th row group; Arrow IPC: every n-th record batch). Parts of a shard are merged into one
ShardResult before the shard is committed, so resume, counts and the database never see a half
shard (a shard with a part whose worker process died is committed failed, with nothing
counted).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from corpus_scan.documents import Source
from corpus_scan.sources import SPLITTABLE
from corpus_scan.store.parts import MAX_BAD_ROWS_KEPT, ShardResult

DEFAULT_UNIT_BYTES = 64 << 20  # on disk; below this a shard is one unit
RANDOM_ACCESS = frozenset({"parquet", "arrow"})  # a part reads only its own row groups / batches


@dataclass(frozen=True)
class WorkUnit:
    shard_id: int
    source: Source
    part: int = 0
    n_parts: int = 1


def plan_units(
    items: list[tuple[int, Source]],
    workers: int,
    unit_bytes: int = DEFAULT_UNIT_BYTES,
    *,
    by_share: bool = True,
) -> list[WorkUnit]:
    """Split a shard into at most `workers` parts of at least `unit_bytes` (on disk).

    Parquet and Arrow parts are disjoint row groups / record batches, so splitting costs
    nothing. A JSON lines part reads (and decompresses) the whole stream to count its rows and
    parses only its own batches, so a JSON lines shard is split only where it holds more than
    one worker's share of the corpus (its size / the total size per worker): a lone big file
    still uses every core, but a corpus of several big files does not decompress each of them
    once per worker (`benchmarks/big_files.py`: 4 gzip files of 75 MB on 2 workers, 5.2 s
    split, 4.0 s whole).
    `by_share=False` splits JSON lines by size alone too (tests use it to get split shards).
    """
    units: list[WorkUnit] = []
    total = sum(s.size or 0 for _, s in items)
    share = total / max(1, workers)
    for shard_id, source in items:
        n = 1
        if workers > 1 and source.format in SPLITTABLE and source.size:
            whole_stream = by_share and source.format not in RANDOM_ACCESS
            floor = max(unit_bytes, share) if whole_stream else unit_bytes
            n = max(1, min(workers, math.ceil(source.size / floor)))
        units.extend(WorkUnit(shard_id, source, k, n) for k in range(n))
    return units


def lost_result(unit: WorkUnit, error: str) -> ShardResult:
    """The result of a unit whose worker died: failed, and (via `lost`) nothing of its shard
    is counted, even when other parts of a split shard finished."""
    now = time.time()
    return ShardResult.for_source(
        unit.shard_id,
        unit.source,
        status="failed",
        error=error,
        started_at=now,
        finished_at=now,
        lost=True,
    )


def merge_parts(parts: list[ShardResult]) -> ShardResult:
    """One ShardResult from the results of all parts of a shard (any order)."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    if any(p.lost for p in parts):  # a part's counts are unknown: count none of the shard
        lost = next(p for p in parts if p.lost)
        lost.started_at = min(p.started_at for p in parts)
        return lost
    merged = ShardResult(
        shard_id=first.shard_id,
        path=first.path,
        format=first.format,
        compression=first.compression,
        size_bytes=first.size_bytes,
        mtime=first.mtime,
        started_at=min(p.started_at for p in parts),
        finished_at=max(p.finished_at for p in parts),
    )
    for name in ("n_docs", "n_chars", "n_bytes", "n_bad", "n_skipped", "n_candidates", "n_flagged"):
        setattr(merged, name, sum(getattr(p, name) for p in parts))
    errors = [p.error for p in parts if p.error]
    if any(p.status == "failed" for p in parts):
        merged.status, merged.error = "failed", "; ".join(dict.fromkeys(errors))
    merged.spills = [path for p in parts for path in p.spills]
    for attr in ("candidates", "passages", "bad"):
        target = getattr(merged, attr)
        for part in parts:
            for col, values in getattr(part, attr).items():
                target[col].extend(values)
    _sort_by_row(merged.candidates)
    _sort_by_row(merged.passages, ("row", "passage"))
    _sort_by_row(merged.bad)
    for col in merged.bad:
        del merged.bad[col][MAX_BAD_ROWS_KEPT:]
    return merged


def _sort_by_row(cols: dict[str, list], keys: tuple[str, ...] = ("row",)) -> None:
    n = len(cols["row"])
    order = sorted(range(n), key=lambda i: tuple(cols[k][i] for k in keys))
    for col, values in cols.items():
        cols[col] = [values[i] for i in order]
