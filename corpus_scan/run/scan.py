"""`scan`: discover inputs, run the cascade over every shard, commit each shard atomically.

Re-running the same scan (same inputs, options and detector) into the same database resumes
the earlier run: finished shards are skipped, interrupted or failed ones are redone, and since a
shard's rows are replaced in one transaction, no document is ever counted twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpus_scan import __version__
from corpus_scan.detect.cascade import DetectorConfig, get_cascade
from corpus_scan.documents import InputError, ReadOptions, Skipped, Source
from corpus_scan.run.executor import Job, run_local, run_processes, start_pool
from corpus_scan.run.progress import ScanProgress
from corpus_scan.run.units import WorkUnit, lost_result, merge_parts, plan_units
from corpus_scan.sources import discover
from corpus_scan.store.parts import ShardResult
from corpus_scan.store.spill import (
    SPILL_ROWS,
    make_spill_dir,
    remove_spill_dir,
    remove_stale_spill_dirs,
)


@dataclass
class ScanReport:
    db: str
    run_id: int
    status: str  # done | incomplete (some shard failed) | already-done
    resumed: bool
    shards_total: int
    shards_run: int
    totals: dict[str, Any]
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    bytes_read: int = 0  # this invocation only (a resumed run reads less)
    docs_read: int = 0
    # the run's first bad records, (shard path, line or None, row, reason), for the console
    bad_sample: list[tuple[str, int | None, int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def scan(
    inputs: list[str] | str | Path,
    db: str | Path = "corpus_scan.duckdb",
    *,
    read_options: ReadOptions | None = None,
    detector: DetectorConfig | str | None = None,
    workers: int = 1,
    limit: int | None = None,
    new_run: bool = False,
    progress: bool = False,
    executor: str = "local",
    ray_address: str | None = None,
) -> ScanReport:
    """Scan `inputs` (files, folders, globs, hf:// paths) into the DuckDB file `db`.

    `executor="local"` runs `workers` processes on this machine; `executor="ray"` runs the same
    work units as Ray actors (local Ray, or the cluster at `ray_address`). Either way only this
    process opens the database. One input may be given alone (`scan("corpus/")`), and
    `detector` by its name (`detector="lexical"`).
    """
    inputs = [str(inputs)] if isinstance(inputs, str | Path) else [str(i) for i in inputs]
    if not inputs:
        raise InputError("no inputs to scan: name at least one file, folder, glob or hf: path")
    if isinstance(detector, str):
        detector = DetectorConfig(scorer=detector)
    if executor not in ("local", "ray"):
        raise InputError(f"unknown executor {executor!r} (local | ray)")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1 document, not {limit}")
    if workers < 1:
        raise InputError(f"workers must be at least 1 (the command line's 0 means all cores), "
                         f"not {workers}")
    read_options = read_options or ReadOptions()
    detector = detector or DetectorConfig()
    sources, skipped = discover(list(inputs))
    cascade = get_cascade(detector)  # fails early on a bad lexicon or missing model
    config = _config(inputs, sources, read_options, detector, limit)
    config["detector_version"] = cascade.version
    config["lexicon_hash"] = cascade.lexicon_hash
    config_hash = _hash(config)
    parallel = (workers > 1 or executor == "ray") and limit is None
    # workers and local Ray actors write here; a cluster's actors hand their rows to this
    # process, which writes them here (`run.shipped_spills`)
    spill_dir = _spill_dir(db)
    job = Job(read_options, detector, limit, str(spill_dir) if spill_dir else None)
    pool = None
    planned = plan_units(list(enumerate(sources)), workers)
    if executor == "local" and parallel and len(planned) > 1:
        fresh = new_run or not Path(db).exists()  # nothing to resume: start scanning now
        pool = start_pool(job, workers, head_start=planned if fresh else ())

    # imported after the workers started: ~0.1 s off every scan's start-up path
    import duckdb

    from corpus_scan.store.db import DatabaseError, Store

    try:
        store = Store(db)
    except BaseException:
        if pool is not None:
            pool.close(kill=True)
        remove_spill_dir(spill_dir)
        raise
    try:
        remove_stale_spill_dirs(db)
        found = store.find_run(config_hash)
        resumed = False
        if found and not new_run:
            run_id, status = found
            if status == "done":
                return ScanReport(
                    str(db),
                    run_id,
                    "already-done",
                    False,
                    len(sources),
                    0,
                    store.run_totals(run_id),
                    store.failed_shards(run_id),
                    skipped,
                    bad_sample=store.bad_sample(run_id),
                )
            store.reopen_run(run_id)
            resumed = True
        else:
            run_id = store.start_run(
                config,
                config_hash,
                version=__version__,
                detector=cascade.version,
                lexicon_hash=cascade.lexicon_hash,
                threshold=cascade.threshold,
                n_inputs=len(sources),
            )
        store.record_skipped(run_id, skipped)
        finished = store.finished_shards(run_id)
        if resumed and limit is not None:  # --limit counts the documents of the whole run
            done_docs = int(store.run_totals(run_id).get("n_docs") or 0)
            job = Job(read_options, detector, max(0, limit - done_docs), job.spill_dir)
        todo = [(i, s) for i, s in enumerate(sources) if i not in finished]
        start = time.perf_counter()
        status = "interrupted"
        committed = 0  # fewer than len(todo) when --limit stops the scan early
        with ScanProgress(len(todo), enabled=progress) as bar:
            try:
                units = plan_units(todo, workers if parallel else 1)
                if executor == "ray":
                    from corpus_scan.run.ray_executor import run_ray

                    results = run_ray(units, job, bar.tick, workers, ray_address)
                elif pool is not None and len(units) > 1:
                    results = run_processes(units, job, bar.tick, workers, pool)
                else:
                    results = run_local(units, job, bar.tick)
                for group in _commit_groups(_whole_shards(units, results, job.limit is None)):
                    store.commit_shards(run_id, group)
                    committed += len(group)
                    for _ in group:
                        bar.shard_done()
                failed = store.failed_shards(run_id)
                status = "incomplete" if failed else "done"
            finally:
                try:
                    store.finish_run(run_id, status)
                except duckdb.Error:
                    if status != "interrupted":  # else an error is on its way: keep that one
                        raise
        return ScanReport(
            str(db),
            run_id,
            status,
            resumed,
            len(sources),
            committed,
            store.run_totals(run_id),
            failed,
            skipped,
            time.perf_counter() - start,
            bar.bytes,
            bar.docs,
            store.bad_sample(run_id),
        )
    except duckdb.Error as exc:  # the database cannot be written (disk full, I/O error)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseError(
            f"{db}: cannot write the database: {first}; the shards committed before are kept, "
            "so re-run the same scan (after freeing space) to resume"
        ) from None
    finally:
        if pool is not None:  # closed already unless it was never used
            pool.close(kill=True)
        store.close()
        remove_spill_dir(spill_dir)


def _whole_shards(
    units: list[WorkUnit], results: Iterable[ShardResult], expect_all: bool = True
) -> Iterator[ShardResult]:
    """Merge the parts of split shards; a shard is committed only once all parts are back.
    When the executor is done, a shard with parts missing, or (`expect_all`: no --limit
    stopped the scan early) with none back at all, is committed failed: a scan never reports
    `done` without it (an executor that lost a unit once did exactly that)."""
    expected = {u.shard_id: u for u in units}
    parts: dict[int, list[ShardResult]] = {}
    merged: set[int] = set()
    for result in results:
        got = parts.setdefault(result.shard_id, [])
        got.append(result)
        if len(got) == expected[result.shard_id].n_parts:
            merged.add(result.shard_id)
            yield merge_parts(parts.pop(result.shard_id))
    for shard_id, unit in expected.items():
        got = parts.get(shard_id, [])
        if shard_id in merged or not (got or expect_all):
            continue
        yield lost_result(unit, f"{unit.source.path}: only {len(got)} of {unit.n_parts} part(s) "
                          "came back from the workers; nothing of it was counted (re-run the "
                          "scan to retry it)")


# A group of finished shards commits in one transaction once it holds this many shards, rows
# or bytes read, or its first shard has waited this long: tiny files stop paying a transaction
# each (~1.5 ms), while a shard of 1 MB or 512 rows, whose work dwarfs that, commits alone.
GROUP_SHARDS = 64
GROUP_ROWS = 512
GROUP_BYTES = 1 << 20
GROUP_SECONDS = 1.0


def _spill_dir(db: str | Path) -> Path | None:
    """The run's spill folder (`store.spill`), or None where it cannot be made (a missing
    or read-only folder, which opening the database then reports): rows then wait in memory."""
    try:
        return make_spill_dir(db)
    except OSError:
        return None


def _commit_groups(results: Iterable[ShardResult]) -> Iterator[list[ShardResult]]:
    """Finished shards in commit groups (see GROUP_*); a large shard commits on arrival."""
    group: list[ShardResult] = []
    rows = size = 0
    since = 0.0
    try:
        for result in results:
            if not group:
                since = time.monotonic()
            group.append(result)
            rows += SPILL_ROWS * len(result.spills) + sum(
                len(next(iter(c.values()), []))
                for c in (result.candidates, result.passages, result.bad))
            size += result.n_bytes
            if (len(group) >= GROUP_SHARDS or rows >= GROUP_ROWS or size >= GROUP_BYTES
                    or time.monotonic() - since >= GROUP_SECONDS):
                yield group
                group, rows, size = [], 0, 0
    except GeneratorExit:  # the caller stopped (its commit failed): nothing more to hand over
        raise
    except BaseException:
        if group:  # an interrupt or a failed worker: keep what finished before it
            yield group
        raise
    if group:
        yield group


def _config(
    inputs: list[str],
    sources: list[Source],
    read_options: ReadOptions,
    detector: DetectorConfig,
    limit: int | None,
) -> dict[str, Any]:
    """What makes two scans 'the same scan'. Source sizes and mtimes are in: a changed file
    means a new run, never a resumed run that mixes old and new content."""
    fingerprint = hashlib.sha256()
    for s in sources:
        fingerprint.update(f"{s.path}\0{s.size}\0{s.mtime}\n".encode())
    return {
        "inputs": [_absolute(i) for i in inputs],
        "n_sources": len(sources),
        "sources_sha256": fingerprint.hexdigest(),
        "read_options": asdict(read_options),
        "detector": detector.to_dict(),
        "limit": limit,
        "version": __version__,
    }


def _absolute(raw: str) -> str:
    """A local path (also a local `hf:` folder) made absolute; a hub name as given."""
    if not raw.startswith("hf:"):
        return os.path.abspath(raw)
    local = raw[3:]
    return "hf:" + os.path.abspath(local) if local.startswith(("/", "./", "../")) else raw


def _hash(config: dict[str, Any]) -> str:
    """The run's identity. The batch size is stored but left out: it changes no row, score or
    vector, so a resume may change it."""
    same = {**config, "read_options": {
        k: v for k, v in config.get("read_options", {}).items() if k != "batch_size"}}
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()[:16]
