"""`filter`: write filtered (or annotated) copies of a scan's shards, from the database alone.

    report = filter_shards("hits.duckdb", "clean/", mode="drop", fmt="parquet")

Reads the sources recorded by a scan run with the run's read options (record-level, through
the scan's own readers, so rows line up with `candidates.row`), decides per document from
the stored candidates (no re-scoring, see `flags`), and writes one output shard per input
shard (names: see `plan`) plus `manifest.json` (see `manifest`). A shard with nothing to
write (every document dropped, or none readable) gets no file: its manifest entry says
`written` 0 and `sha256` null.

What is preserved, per input format (bad records are never written: they could not be read,
and cannot be represented in Parquet; the manifest counts them per shard):

* JSON lines → jsonl.gz: each kept line byte for byte (annotate: the `cs_*` fields are added
  before the closing brace); → Parquet: every field, types unified over the shard
  (`schema`), missing fields null.
* JSON document: every field of each record (a keyed object's key becomes its id field).
* Parquet → Parquet: the rows themselves (Arrow `take`), schema and metadata unchanged
  (annotate drops the `huggingface` feature metadata, which would no longer match);
  → jsonl.gz: every column as JSON (binary as base64, decimals as strings).
* CSV: every column as text (headerless files: f0, f1, ... and the joined `text`).
* hub datasets: every column of the dataset row.
* txt, tar, WARC/WET: what the reader produces: `id`, `text`, `url` (no other metadata).

Order is the input order; an upsampled document's copies are consecutive. The text of every
written document is the very string the scan read.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpus_scan import __version__
from corpus_scan.documents import InputError, ReadOptions, ShardReadError
from corpus_scan.shards.flags import TRIAGE_VIEW, RunFlags, load_flags, stale_triage
from corpus_scan.shards.manifest import (
    build_manifest,
    now_iso,
    prepare_output,
    write_manifest,
)
from corpus_scan.shards.plan import RunPlan, ShardSpec, load_plan
from corpus_scan.shards.schema import SchemaInference
from corpus_scan.shards.shard import FORMATS, MODES, ShardFilter
from corpus_scan.shards.writer import fsync_dirs
from corpus_scan.sources.arrow_ipc import arrow_schema
from corpus_scan.sources.originals import read_records
from corpus_scan.store.db import connect

FIXED_FIELDS = frozenset({"txt", "tar", "warc", "wet"})  # records are always id/text/url


@dataclass
class FilterReport:
    out: str
    manifest: str
    run_id: int
    mode: str
    fmt: str
    threshold: float
    flag_rule: str
    shards: list[dict[str, Any]]  # the manifest's per-shard entries
    totals: dict[str, Any]
    reused: int = 0  # shards kept from an interrupted run of the same job
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def filter_shards(
    db: str | Path,
    out: str | Path,
    *,
    mode: str = "drop",
    threshold: float | None = None,
    fmt: str = "parquet",
    upsample_accepting: int = 0,
    overwrite: bool = False,
    run_id: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> FilterReport:
    """Write the filtered shards of scan run `run_id` (default: the latest finished) to `out`.

    mode: drop (all but flagged) | keep (only flagged) | annotate (all, with cs_* columns).
    threshold: flag candidates with score >= threshold (default: the run's decision, or the
    `triaged_hits` view when present). upsample_accepting=K: unflagged candidates with stance
    `accepts` are written K times. Raises InputError (one line) for anything it refuses.
    """
    _check_args(mode, threshold, fmt, upsample_accepting)
    _import_pandas()
    start = time.perf_counter()
    db_path = str(Path(db).resolve())
    con = connect(db, read_only=True)
    try:
        plan = load_plan(con, db_path, run_id, fmt)
        flags = load_flags(con, plan.run_id, threshold)
        stale = stale_triage(con, plan.run_id) if flags.rule == TRIAGE_VIEW else None
    finally:
        con.close()
    out = Path(out)
    _refuse_inputs_as_outputs(plan, out)
    job = _job(plan, flags, mode, threshold, fmt, upsample_accepting)
    try:
        log = prepare_output(out, job, overwrite)
        entries: list[dict[str, Any]] = []
        reused = 0
        for spec in plan.shards:
            entry = log.done.get(spec.output)
            if entry is not None:
                reused += 1
            else:
                entry = filter_one(spec, plan, flags, out, mode, fmt, upsample_accepting)
                log.append(entry)
            entries.append(entry)
            if progress is not None:
                progress(entry)
        eff_threshold = float(threshold) if threshold is not None else plan.run_threshold
        seconds = time.perf_counter() - start
        manifest = build_manifest(
            job=job,
            threshold=eff_threshold,
            input_root=plan.input_root,
            entries=entries,
            created_at=now_iso(),
            seconds=seconds,
        )
        written = [e["output"] for e in entries if e["sha256"]]  # shards with a file
        fsync_dirs(out, written)  # every rename is durable before...
        path = write_manifest(out, manifest)  # ...the manifest says the folder is complete
        log.finish()
    except OSError as e:  # unwritable --out, disk full: one line; no final name is ever partial
        why = e.strerror or (str(e).splitlines() or [type(e).__name__])[0]
        where = f" ({e.filename})" if e.filename else ""
        raise InputError(
            f"{out}: cannot write the filter output: {why}{where}; nothing partial "
            "is left under a final name, and re-running the same command resumes"
        ) from None
    return FilterReport(
        str(out),
        str(path),
        plan.run_id,
        mode,
        fmt,
        eff_threshold,
        flags.rule,
        entries,
        manifest["totals"],
        reused,
        seconds,
        [stale] if stale else [],
    )


def filter_one(
    spec: ShardSpec,
    plan: RunPlan,
    flags: RunFlags,
    out: Path,
    mode: str,
    fmt: str,
    upsample_accepting: int,
) -> dict[str, Any]:
    """Filter one shard into out/spec.output; returns its manifest entry."""
    source, opts = spec.source, plan.read_options
    flagged = flags.flagged(spec.shard_id)
    cands = flags.candidates(spec.shard_id)
    try:
        schema, json_fields = _output_schema(spec, opts, fmt)
        sf = ShardFilter(
            out / spec.output,
            mode=mode,
            fmt=fmt,
            run_id=plan.run_id,
            upsample_accepting=upsample_accepting,
            schema=schema,
            json_fields=json_fields,
        )
        try:
            for batch in read_records(source, opts):
                sf.add(batch, flagged, cands)
        except BaseException:
            sf.abort()
            raise
        expect = (spec.n_docs, spec.n_bad, spec.n_skipped, len(cands), len(flagged))
        size, sha = sf.commit(expect)
    except ShardReadError as e:
        raise InputError(f"{e} (it was read fine by the scan)") from None
    except InputError as e:
        msg = str(e)
        raise InputError(msg if msg.startswith(source.path) else f"{source.path}: {msg}") from None
    c = sf.counts
    return {
        "shard_id": spec.shard_id,
        "input": source.path,
        "input_format": source.format,
        "input_compression": source.compression,
        "input_bytes": source.size,
        "input_docs": c.input_docs,
        "flagged": c.flagged,
        "written": c.written,
        "dropped": c.dropped,
        "duplicated": c.duplicated,
        "bad_records": c.bad_records,
        "skipped_records": c.skipped_records,
        "bad_records_passed_through": False,
        "output": spec.output,
        "output_bytes": size,
        "sha256": sha,
    }


def _output_schema(spec: ShardSpec, opts: ReadOptions, fmt: str) -> tuple[Any, frozenset[str]]:
    """(schema, JSON-encoded fields) for Parquet output; (None, ∅) for JSON lines."""
    if fmt != "parquet":
        return None, frozenset()
    fmt_in = spec.source.format
    if fmt_in in ("parquet", "arrow"):
        try:
            if fmt_in == "arrow":
                return arrow_schema(spec.source.path), frozenset()
            return pq.read_schema(spec.source.path), frozenset()
        except (OSError, pa.ArrowException) as e:  # an input problem, not the output folder's
            raise InputError(f"{spec.source.path}: cannot read: {e}") from None
    infer = SchemaInference()
    if fmt_in in FIXED_FIELDS:
        infer.add([{"id": "", "text": "", "url": ""}])
    else:  # a first pass over the shard: one schema must fit every record
        for batch in read_records(spec.source, opts):
            infer.add(batch.records)
        if not infer.types:
            infer.add([{opts.text_fields[0] if opts.text_fields else "text": ""}])
    return infer.schema(), frozenset(infer.json_fields)


def _import_pandas() -> None:
    """pyarrow imports pandas lazily, from Cython code that swallows exceptions: a Ctrl-C or
    SIGTERM landing in that import (~0.3 s early in every job) was lost and the job ran on.
    Imported here, from Python, the signal stops the job like one landing anywhere else."""
    try:
        import pandas  # noqa: F401
    except ImportError:  # pyarrow works without it
        pass


def _check_args(mode: str, threshold: float | None, fmt: str, upsample: int) -> None:
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r} (use {', '.join(MODES)})")
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    if threshold is not None and not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise InputError(f"--threshold must lie between 0 and 1 (scores are probabilities), "
                         f"not {threshold:g}")
    if upsample < 0:
        raise InputError("--upsample-accepting must be 0 or more")
    if upsample > 1 and mode == "keep":
        raise InputError("--upsample-accepting applies to drop and annotate (keep writes hits)")


def _refuse_inputs_as_outputs(plan: RunPlan, out: Path) -> None:
    inputs = {os.path.realpath(s.source.path) for s in plan.shards}
    for spec in plan.shards:
        target = os.path.realpath(out / spec.output)
        if target in inputs:
            raise InputError(f"{target}: the output would replace an input; choose another --out")


def _job(
    plan: RunPlan, flags: RunFlags, mode: str, threshold: float | None, fmt: str, upsample: int
) -> dict[str, Any]:
    """What makes two filter invocations the same job (for resuming)."""
    inputs = hashlib.sha256()
    for s in plan.shards:
        inputs.update(f"{s.source.path}\0{s.source.size}\0{s.source.mtime}\n".encode())
    return {
        "db": plan.db,
        "run_id": plan.run_id,
        "mode": mode,
        "threshold": threshold,
        "flag_rule": flags.rule,
        "flagged_sha256": flags.digest,
        "format": fmt,
        "upsample_accepting": upsample,
        "version": __version__,
        "inputs_sha256": inputs.hexdigest(),
    }
