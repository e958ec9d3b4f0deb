"""What a filter job reads: the scan run, its shards (checked unchanged), their output names.

Refusals (InputError, one line), all before anything is written:

* no finished run (status done/incomplete), or an explicit run that is unknown or unfinished;
* shards missing from the run, shards whose scan `failed` (named: a filtered corpus that
  silently lacks a shard is worse than no output; fix and re-run the scan) or was `limited`
  by --limit (only part of it was scanned);
* a local source whose size or mtime differs from the scan's (`shards.size_bytes`/`mtime`),
  or that is gone: the stored rows would no longer describe it. Hub sources (`hf:`) cannot be
  checked this way; their row counts are still checked against the scan while filtering.

Output names mirror the inputs relative to their common parent folder, with the format's
extension replaced (`.../web-jsonl/dolma-cc.jsonl.gz` → `dolma-cc.parquet`, subfolders kept).
Inputs that would get the same name (`a.jsonl` and `a.jsonl.gz`) keep their full file name
(`a.jsonl.parquet`, `a.jsonl.gz.parquet`). Hub sources go under `hf/`.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import PurePosixPath

import duckdb

from corpus_scan.documents import InputError, ReadOptions, Source
from corpus_scan.sources.discover import changed, format_suffix
from corpus_scan.store.schema import latest_run

EXTENSIONS = {"parquet": ".parquet", "jsonl.gz": ".jsonl.gz"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._@=+/-]+")


@dataclass(frozen=True)
class ShardSpec:
    """One input shard as the scan recorded it, and where its filtered copy goes."""

    shard_id: int
    source: Source
    n_docs: int
    n_bad: int
    n_skipped: int
    output: str  # path under the output folder, '/'-separated


@dataclass(frozen=True)
class RunPlan:
    db: str
    run_id: int
    run_threshold: float
    read_options: ReadOptions
    input_root: str | None  # common parent folder of the local inputs
    shards: list[ShardSpec]


def pick_run(con: duckdb.DuckDBPyConnection, run_id: int | None) -> tuple[int, float, dict]:
    """(run_id, threshold, config) of the requested run, or of the latest finished one."""
    if run_id is None:
        latest = latest_run(con, finished_only=True)
        if latest is None:
            raise InputError("no finished scan run in the database (run `corpus-scan scan` first)")
        row = con.execute(
            "SELECT run_id, status, threshold, config FROM runs WHERE run_id = ?", [latest]
        ).fetchone()
    else:
        found = con.execute(
            "SELECT run_id, status, threshold, config FROM runs WHERE run_id = ?", [run_id]
        ).fetchall()
        row = found[0] if found else None
        if row is None:
            raise InputError(f"run {run_id}: no such run in the database")
        if row[1] not in ("done", "incomplete"):
            raise InputError(
                f"run {run_id} is '{row[1]}', not finished: re-run the same scan to complete it"
            )
    config = json.loads(row[3]) if isinstance(row[3], str) else (row[3] or {})
    return int(row[0]), float(row[2]), config


def read_options_of(config: dict) -> ReadOptions:
    """The ReadOptions a run was scanned with (from runs.config)."""
    stored = config.get("read_options") or {}
    known = {f.name for f in fields(ReadOptions)}
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in known}
    return ReadOptions(**kw)


def load_plan(con: duckdb.DuckDBPyConnection, db: str, run_id: int | None, fmt: str) -> RunPlan:
    """Select the run, check its shards, name the outputs (see module doc for refusals)."""
    run_id, threshold, config = pick_run(con, run_id)
    (n_inputs,) = con.execute("SELECT n_inputs FROM runs WHERE run_id = ?", [run_id]).fetchall()
    rows = con.execute(
        "SELECT shard_id, path, format, compression, size_bytes, mtime, n_docs, n_bad, "
        "n_skipped, status, error FROM shards WHERE run_id = ? ORDER BY shard_id",
        [run_id],
    ).fetchall()
    limit = config.get("limit")
    short = bool(n_inputs and n_inputs[0] is not None and len(rows) != n_inputs[0])
    if limit is not None and (short or any(r[9] == "limited" for r in rows)):
        raise InputError(
            f"run {run_id} was stopped by --limit {limit}: it scored only the first documents "
            "of its inputs, and filter needs a complete scan (run `corpus-scan scan` on the "
            "same inputs without --limit)"
        )
    if short:
        raise InputError(
            f"run {run_id} recorded {len(rows)} of its {n_inputs[0]} shards: re-run the same "
            "scan to complete it"
        )
    _refuse_unfinished(run_id, rows)
    sources = [Source(r[1], r[2], r[3], r[4], r[5]) for r in rows]
    for source in sources:
        try:
            check_unchanged(source)
        except InputError as exc:  # the run was picked for the user: say which, and how else
            raise InputError(f"run {run_id}: {exc} (choose another run with --run)") from None
    outputs, root = output_names([s.path for s in sources], EXTENSIONS[fmt])
    shards = [
        ShardSpec(int(r[0]), src, int(r[6] or 0), int(r[7] or 0), int(r[8] or 0), out)
        for r, src, out in zip(rows, sources, outputs, strict=True)
    ]
    return RunPlan(db, run_id, threshold, read_options_of(config), root, shards)


def _failure(path: str, error: str | None) -> str:
    """`path: error` on one line; the stored error usually starts with the path already."""
    first = ((error or "failed").splitlines() or ["failed"])[0]
    first = first.removeprefix(f"{path}: ")
    if len(first) > 200:
        first = first[:199].rstrip() + "…"
    return f"{path}: {first}"


def _refuse_unfinished(run_id: int, rows: list[tuple]) -> None:
    failed = [(r[1], r[10]) for r in rows if r[9] == "failed"]
    if failed:
        shown = "; ".join(_failure(p, e) for p, e in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        raise InputError(
            f"run {run_id}: {len(failed)} shard(s) failed to scan and cannot be filtered: "
            f"{shown}{more}; fix them and re-run the scan"
        )
    limited = [r[1] for r in rows if r[9] == "limited"]
    if limited:
        raise InputError(
            f"run {run_id} was stopped by --limit (e.g. {limited[0]} was only partly scanned); "
            "filter needs a complete scan"
        )


def check_unchanged(source: Source) -> None:
    """Refuse a local source that is gone or whose size/mtime differ from the scan's."""
    try:
        now = changed(source)
    except OSError as e:
        raise InputError(f"{source.path}: {e.strerror or 'cannot stat'} (it was scanned)") from None
    if now is not None:
        raise InputError(
            f"{source.path}: changed since the scan (size {source.size} -> {now[0]}, "
            f"mtime {source.mtime} -> {now[1]}); rescan it before filtering"
        )


def output_names(paths: list[str], ext: str) -> tuple[list[str], str | None]:
    """(output path per input, common parent folder of the local inputs) - see module doc."""
    local = [p for p in paths if not p.startswith("hf:")]
    root = os.path.commonpath([os.path.dirname(p) for p in local]) if local else None
    short: list[str] = []
    full: list[str] = []
    for path in paths:
        if path.startswith("hf:"):
            rel = "hf/" + _safe(path[3:].removeprefix("//datasets/"))
            short.append(rel + ext)
            full.append(rel + ext)
            continue
        rel = PurePosixPath(*os.path.relpath(path, root).split(os.sep)).as_posix()
        suffix = format_suffix(rel) or ""
        short.append(rel[: len(rel) - len(suffix)] + ext)
        full.append(rel + ext)
    counts = Counter(short)
    names = [s if counts[s] == 1 else f for s, f in zip(short, full, strict=True)]
    dupes = [n for n, c in Counter(names).items() if c > 1]
    if dupes:
        raise InputError(f"two inputs map to the same output name {dupes[0]!r}")
    return names, root


def _safe(name: str) -> str:
    parts = [p for p in _UNSAFE.sub("_", name).split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "dataset"
