"""Scan one shard: read batches, run the cascade, count everything, hand back a ShardResult.

This is the unit of work executors distribute. It never touches the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from corpus_scan.detect.cascade import DetectorConfig, get_cascade
from corpus_scan.documents import DocBatch, ReadOptions, ShardReadError, Source
from corpus_scan.sources import read_source
from corpus_scan.sources.discover import changed
from corpus_scan.store.parts import (
    CANDIDATE_COLUMNS,
    MAX_BAD_ROWS_KEPT,
    PASSAGE_COLUMNS,
    ShardResult,
)
from corpus_scan.store.spill import SPILL_ROWS, write_spill

Progress = Callable[[int, int], None]  # (docs, bytes) read since the last call
# takes a chunk of rows ({"candidates": cols, "passages": cols}) off the worker's hands and
# names it; the name goes into ShardResult.spills in its place (the Ray executor on a cluster
# ships chunks to the scanning process, which writes them to its own spill folder)
SpillSink = Callable[[dict[str, dict[str, list]]], str]


def process_shard(
    source: Source,
    shard_id: int,
    read_options: ReadOptions,
    detector: DetectorConfig,
    *,
    limit: int | None = None,
    progress: Progress | None = None,
    part: tuple[int, int] = (0, 1),
    spill_dir: str | None = None,
    spill_sink: SpillSink | None = None,
) -> ShardResult:
    """Read and score one shard. Unexpected errors mark the shard failed instead of the run.
    With `spill_dir`, candidate rows go to files there every `SPILL_ROWS` (`store.spill`);
    with `spill_sink` instead, every `SPILL_ROWS` they are handed to it."""
    if spill_sink is None and spill_dir is not None:
        folder = spill_dir

        def spill_sink(rows: dict[str, dict[str, list]]) -> str:
            return write_spill(folder, shard_id, part[0], rows)

    cascade = get_cascade(detector)
    result = ShardResult.for_source(shard_id, source, started_at=time.time())
    try:
        batches = (
            read_source(source, read_options, part=part)
            if part[1] > 1
            else (read_source(source, read_options))
        )
        for batch in batches:
            if limit is not None and result.n_docs + len(batch) > limit:
                _truncate(batch, limit - result.n_docs)
                result.status = "limited"
            _count(result, batch)
            _score(result, cascade, batch, shard_id, source.path)
            if spill_sink is not None and len(result.candidates["row"]) >= SPILL_ROWS:
                _spill(result, spill_sink)
            if progress is not None:
                progress(len(batch), batch.n_bytes)
            if result.status == "limited":
                break
        if result.status != "limited":
            _check_unchanged(source)
    except ShardReadError as exc:
        result.status, result.error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken shard must not stop a corpus scan
        result.status = "failed"
        result.error = f"{source.path}: {type(exc).__name__}: {exc}"
    result.finished_at = time.time()
    return result


def _check_unchanged(source: Source) -> None:
    """A file written to while it was read gives counts that match neither version: fail the
    shard (the next scan sees a new fingerprint, so a new run) instead of recording it."""
    try:
        now = changed(source)
    except OSError as exc:
        raise ShardReadError(f"{source.path}: {exc.strerror or exc} after it was read") from None
    if now is not None:
        raise ShardReadError(
            f"{source.path}: changed while it was being scanned (size {source.size} -> "
            f"{now[0]}); scan it again once nothing writes to it"
        )


def _spill(result: ShardResult, sink: SpillSink) -> None:
    rows = {"candidates": result.candidates, "passages": result.passages}
    result.spills.append(sink(rows))
    result.candidates = {name: [] for name in CANDIDATE_COLUMNS}
    result.passages = {name: [] for name in PASSAGE_COLUMNS}


def _truncate(batch: DocBatch, keep: int) -> None:
    last_row = batch.rows[keep - 1] if keep > 0 else -1
    # the batch's bytes shrink with its kept text (readers count bytes per batch, not per row)
    total = sum(map(len, batch.texts))
    kept = sum(map(len, batch.texts[:keep]))
    batch.n_bytes = round(batch.n_bytes * kept / total) if total else 0
    for name in ("rows", "ids", "texts", "urls"):
        del getattr(batch, name)[keep:]
    batch.bad[:] = [b for b in batch.bad if b.row < last_row]


def _count(result: ShardResult, batch: DocBatch) -> None:
    result.n_docs += len(batch)
    result.n_chars += sum(map(len, batch.texts))
    result.n_bytes += batch.n_bytes
    for bad in batch.bad:
        if bad.skipped:
            result.n_skipped += 1
        else:
            result.n_bad += 1
        if len(result.bad["row"]) < MAX_BAD_ROWS_KEPT:
            cols = result.bad
            cols["shard_id"].append(result.shard_id)
            cols["row"].append(bad.row)
            cols["line"].append(bad.line)
            cols["reason"].append(bad.reason)
            cols["skipped"].append(bad.skipped)


def _score(result: ShardResult, cascade, batch: DocBatch, shard_id: int, path: str) -> None:
    cols, pcols = result.candidates, result.passages
    for cand, verdict in cascade.run(batch):
        i = cand.index
        flagged = verdict.score >= cascade.threshold
        result.n_candidates += 1
        result.n_flagged += flagged
        row = batch.rows[i]
        values = {
            "shard_id": shard_id,
            "shard": path,
            "row": row,
            "doc_id": batch.ids[i],
            "url": batch.urls[i],
            "n_chars": len(batch.texts[i]),
            "terms": sorted({s.term for s in cand.spans}),
            "spans": [
                {"kind": s.kind, "term": s.term, "start": s.start, "end": s.end} for s in cand.spans
            ],
            "n_pairs": cand.n_pairs,
            "evidence": cand.evidence,
            "evidence_start": cand.evidence_start,
            "lexical_score": cand.lexical_score,
            "score": float(verdict.score),
            "flagged": flagged,
            "category": verdict.category,
            "stance": verdict.stance,
            "stage": verdict.stage,
        }
        for name, value in values.items():
            cols[name].append(value)
        for k, p in enumerate(verdict.passages):
            pvalues = {
                "shard_id": shard_id,
                "row": row,
                "passage": k,
                "start": p.start,
                "end": p.end,
                "text": p.text,
                "score": p.score,
                # a float32 array (1.5 KB), not a list of Python floats (~12 KB): a shard's
                # rows wait in memory until its commit, which turns them into lists in slices
                "embedding": None if p.embedding is None else p.embedding.astype("float32"),
            }
            for name, value in pvalues.items():
                pcols[name].append(value)
