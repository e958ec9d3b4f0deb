"""Executors: where shards run. The scan loop is the same whichever one is used.

An executor takes work units (a shard, or part k of n of a big one) and yields one ShardResult
per unit as it finishes; the caller merges parts and commits each whole
shard. Progress ticks (docs, bytes) flow back through `on_progress`.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from corpus_scan.detect.cascade import DetectorConfig, get_cascade
from corpus_scan.documents import ReadOptions
from corpus_scan.run.shard import process_shard
from corpus_scan.run.units import WorkUnit
from corpus_scan.store.parts import ShardResult

OnProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class Job:
    read_options: ReadOptions
    detector: DetectorConfig
    limit: int | None = None


def run_local(units: list[WorkUnit], job: Job, on_progress: OnProgress) -> Iterator[ShardResult]:
    """In this process, unit after unit; honours --limit exactly across shards."""
    remaining = job.limit
    for unit in units:
        if remaining is not None and remaining <= 0:
            return
        result = process_shard(
            unit.source,
            unit.shard_id,
            job.read_options,
            job.detector,
            limit=remaining,
            progress=on_progress,
            part=(unit.part, unit.n_parts),
        )
        if remaining is not None:
            remaining -= result.n_docs
        yield result


_TICKS: mp.Queue | None = None


def _init_worker(detector: DetectorConfig, ticks: mp.Queue) -> None:
    global _TICKS
    _TICKS = ticks
    get_cascade(detector)  # load models once per worker, before the first shard


def _tick(docs: int, nbytes: int) -> None:
    if _TICKS is not None:
        _TICKS.put((docs, nbytes))


def _work(args: tuple[WorkUnit, Job]) -> ShardResult:
    unit, job = args
    return process_shard(
        unit.source,
        unit.shard_id,
        job.read_options,
        job.detector,
        progress=_tick,
        part=(unit.part, unit.n_parts),
    )


def run_processes(
    units: list[WorkUnit], job: Job, on_progress: OnProgress, workers: int
) -> Iterator[ShardResult]:
    """A pool of worker processes; results come back in completion order."""
    ctx = mp.get_context("spawn")  # fork after torch/duckdb threads start is unsafe
    ticks = ctx.Queue()
    with ctx.Pool(workers, initializer=_init_worker, initargs=(job.detector, ticks)) as pool:
        pending = pool.imap_unordered(_work, [(u, job) for u in units], chunksize=1)
        done = 0
        while done < len(units):
            try:
                result = pending.next(timeout=0.2)
            except mp.TimeoutError:
                _drain(ticks, on_progress)
                continue
            _drain(ticks, on_progress)
            done += 1
            yield result


def _drain(ticks: mp.Queue, on_progress: OnProgress) -> None:
    while True:
        try:
            docs, nbytes = ticks.get_nowait()
        except queue.Empty:
            return
        on_progress(docs, nbytes)
