"""Executors: where shards run. The scan loop is the same whichever one is used.

An executor takes work units (a shard, or part k of n of a big one) and yields one ShardResult
per unit as it finishes; the caller merges parts and commits each whole
shard. Progress ticks (docs, bytes) flow back through `on_progress`. A worker process that
dies never hangs the scan: see `run_processes`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from corpus_scan.detect.cascade import DetectorConfig, get_cascade
from corpus_scan.documents import ReadOptions
from corpus_scan.run.shard import process_shard
from corpus_scan.run.units import WorkUnit, lost_result
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
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()
    get_cascade(detector)  # load models once per worker, before the first shard


def _exit_with_parent() -> None:
    """A worker whose scan process is gone (SIGKILL, OOM killer) exits too: it would otherwise
    wait on the task queue forever (the queue's write end lives on in every worker)."""
    parent = mp.parent_process()
    if parent is not None:
        parent.join()  # returns when the parent exits
        os._exit(1)


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
    """A pool of worker processes; results come back in completion order.

    A worker that dies mid-unit (killed, out of memory, a crash in native code) breaks the pool
    (`BrokenProcessPool`; a `multiprocessing.Pool` would wait for that result forever). The
    units that were in flight are then re-run one at a time in a fresh pool, so the one that
    kills its worker again, alone, is known: it comes back as a `lost` ShardResult (status
    failed, nothing counted, see `merge_parts`). Its neighbours, and a unit whose worker died
    only once, are retried and counted normally.
    """
    ctx = mp.get_context("spawn")  # fork after torch/duckdb threads start is unsafe
    todo: deque[WorkUnit] = deque(units)
    suspects: deque[WorkUnit] = deque()  # in flight when a worker died: re-run alone
    crashes: dict[tuple[int, int], int] = {}
    idle_breaks = 0  # pools that broke with nothing in flight (a worker dying at start-up)
    while todo or suspects:
        ticks = ctx.Queue()
        pool = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(job.detector, ticks)
        )
        running: dict[Future, WorkUnit] = {}
        finished = False
        try:
            broken = False
            lost: list[WorkUnit] = []
            while (todo or suspects or running) and not broken:
                if suspects:  # alone, so a second death names its unit
                    if not running:
                        broken = not _submit(pool, running, suspects, job)
                else:
                    while todo and len(running) < workers and not broken:
                        broken = not _submit(pool, running, todo, job)
                done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(ticks, on_progress)
                if broken or any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    broken = True
                    done, _ = wait(running)  # a broken pool fails every pending future
                for fut in done:
                    unit = running.pop(fut)
                    if isinstance(fut.exception(), BrokenProcessPool):
                        lost.append(unit)
                    else:
                        yield fut.result()
            if broken and not lost:
                idle_breaks += 1
                if idle_breaks >= 3:
                    raise RuntimeError(
                        f"worker processes keep dying before taking work ({_death_cause(pool)})"
                    )
            if lost:
                cause = _death_cause(pool)
                for unit in lost:
                    key = (unit.shard_id, unit.part)
                    crashes[key] = crashes.get(key, 0) + 1
                    if len(lost) == 1 and crashes[key] >= 2:
                        yield _lost(unit, cause)
                    else:
                        suspects.append(unit)
            finished = True
        finally:
            _close_pool(pool, ticks, kill=not finished)


def _submit(
    pool: ProcessPoolExecutor, running: dict[Future, WorkUnit], queue_: deque[WorkUnit], job: Job
) -> bool:
    """Start the next unit of `queue_`; False (the unit stays queued) when the pool is broken."""
    unit = queue_[0]
    try:
        running[pool.submit(_work, (unit, job))] = unit
    except BrokenProcessPool:
        return False
    queue_.popleft()
    return True


def _lost(unit: WorkUnit, cause: str) -> ShardResult:
    part = f" (part {unit.part + 1} of {unit.n_parts})" if unit.n_parts > 1 else ""
    return lost_result(
        unit,
        f"{unit.source.path}{part}: the worker process died ({cause}) while scanning this "
        "shard, twice; nothing of it was counted (re-run the scan to retry it)",
    )


def _death_cause(pool: ProcessPoolExecutor) -> str:
    """Exit codes of a broken pool's dead workers (it terminates the survivors with SIGTERM)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=True)  # a broken pool's manager thread joins every worker
    causes = []
    for proc in procs:
        code = proc.exitcode
        if code is None or code == -signal.SIGTERM:
            continue
        if code < 0:
            try:
                name: object = signal.Signals(-code).name
            except ValueError:
                name = -code
            causes.append(f"killed by signal {name}")
        elif code:
            causes.append(f"exit code {code}")
    return ", ".join(dict.fromkeys(causes)) or "killed or crashed"


def _close_pool(pool: ProcessPoolExecutor, ticks: mp.Queue, *, kill: bool) -> None:
    """Shut the pool down; when the caller stopped early (an error, Ctrl-C), kill the workers
    first instead of waiting for their shards."""
    if kill:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            if proc.is_alive():
                proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)
    ticks.close()


def _drain(ticks: mp.Queue, on_progress: OnProgress) -> None:
    while True:
        try:
            docs, nbytes = ticks.get_nowait()
        except queue.Empty:
            return
        on_progress(docs, nbytes)
