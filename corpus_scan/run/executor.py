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
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

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
    spill_dir: str | None = None  # where workers write candidate rows (`store.spill`)


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
            spill_dir=job.spill_dir,
        )
        if remaining is not None:
            remaining -= result.n_docs
        yield result


_TICKS: mp.Queue | None = None


def _init_worker(detector: DetectorConfig, ticks: mp.Queue) -> None:
    global _TICKS
    _TICKS = ticks
    # a forked worker inherits the CLI's signal handlers; the pool stops its workers with
    # SIGTERM, which must end them at once, not raise inside a shard. SIGINT is ignored: a
    # terminal's Ctrl-C reaches the whole process group, and the scanning process, which
    # catches it too, stops the pool; a worker raising KeyboardInterrupt would only print its
    # own traceback ("Process ForkProcess-N: ...") under the scan's one interrupted line
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
        spill_dir=job.spill_dir,
    )


def start_method() -> str:
    """How worker processes start: `fork` on Linux while torch is not loaded, else `spawn`.

    A forked worker inherits the imported modules and the compiled cascade, so it starts in
    milliseconds; a spawned one re-imports everything and rebuilds the cascade (~0.5 s each,
    seconds once torch is in). torch's OpenMP pool does not survive a fork, hence the check.
    `$CORPUS_SCAN_START_METHOD` (fork | spawn | forkserver) overrides.
    """
    env = os.environ.get("CORPUS_SCAN_START_METHOD")
    if env:
        return env
    if sys.platform != "linux" or "torch" in sys.modules:
        return "spawn"
    return "fork"


@dataclass
class WorkerPool:
    """A started pool, the queue its workers send progress ticks on, and the units it was
    given a head start on (see `start_pool`)."""

    executor: ProcessPoolExecutor
    ticks: mp.Queue
    pending: dict[Future, WorkUnit] = field(default_factory=dict)

    def close(self, *, kill: bool = False) -> None:
        _close_pool(self.executor, self.ticks, kill=kill)


def start_pool(
    job: Job, workers: int, method: str | None = None, head_start: Sequence[WorkUnit] = ()
) -> WorkerPool:
    """Start `workers` processes now (so they get ready while the caller does other work),
    already running the first units of `head_start`.

    `scan` starts its first pool before it opens the database and the progress display: a
    forked child then never inherits a DuckDB connection or their threads. When the scan
    cannot be a resume (a new database file, or `new_run`), it passes its units as
    `head_start`, so the workers scan while the database is being opened.
    """
    ctx = mp.get_context(method or start_method())
    ticks = ctx.Queue()
    pool = ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=(job.detector, ticks)
    )
    pending = {pool.submit(_work, (unit, job)): unit for unit in head_start[:workers]}
    for _ in range(workers - len(pending)):  # fork: the 1st submit starts all; spawn: 1 each
        pool.submit(int)
    return WorkerPool(pool, ticks, pending)


def run_processes(
    units: list[WorkUnit],
    job: Job,
    on_progress: OnProgress,
    workers: int,
    pool: WorkerPool | None = None,
) -> Iterator[ShardResult]:
    """A pool of worker processes; results come back in completion order.

    `pool` (from `start_pool`) is used first, else one is started here. Pools started after a
    worker died are spawned: by then this process holds the open database.

    A worker that dies mid-unit (killed, out of memory, a crash in native code) breaks the pool
    (`BrokenProcessPool`; a `multiprocessing.Pool` would wait for that result forever). The
    units that were in flight are then re-run one at a time in a fresh pool, so the one that
    kills its worker again, alone, is known: it comes back as a `lost` ShardResult (status
    failed, nothing counted, see `merge_parts`). Its neighbours, and a unit whose worker died
    only once, are retried and counted normally.
    """
    state = _Retry(deque(units))
    try:
        while state.todo or state.suspects:
            started, pool = pool or start_pool(job, workers, "spawn"), None
            yield from _run_pool(started, state, job, on_progress, workers)
    finally:
        if pool is not None:  # never used (nothing to do, or the caller stopped early)
            pool.close(kill=True)


@dataclass
class _Retry:
    todo: deque[WorkUnit]
    suspects: deque[WorkUnit] = field(default_factory=deque)  # in flight at a death: run alone
    crashes: dict[tuple[int, int], int] = field(default_factory=dict)
    idle_breaks: int = 0  # pools that broke with nothing in flight (a worker dying at start-up)


def _run_pool(
    started: WorkerPool, state: _Retry, job: Job, on_progress: OnProgress, workers: int
) -> Iterator[ShardResult]:
    """Run units on one pool until they are done or the pool breaks (a worker died)."""
    pool, ticks = started.executor, started.ticks
    todo, suspects, crashes = state.todo, state.suspects, state.crashes
    running: dict[Future, WorkUnit] = {}
    for fut, unit in started.pending.items():  # head-start units still wanted are adopted
        if unit in todo and not suspects:
            todo.remove(unit)
            running[fut] = unit
        else:
            fut.cancel()  # not wanted (a finished shard): its result, if any, is ignored
    started.pending.clear()
    finished = False
    try:
        broken = False
        lost: list[WorkUnit] = []
        while (todo or suspects or running) and not broken:
            broken = not _refill(pool, running, state, job, workers)
            done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(ticks, on_progress)
            if broken or any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                broken = True
                done, _ = wait(running)  # a broken pool fails every pending future
            results = _collect(done, running, lost)
            if not broken:  # before yielding: workers keep scanning while the caller commits
                broken = not _refill(pool, running, state, job, workers)
                if broken:  # it broke meanwhile: what is still in flight is done or lost
                    results += _collect(wait(running)[0], running, lost)
            yield from results
        if broken and not lost:
            state.idle_breaks += 1
            if state.idle_breaks >= 3:
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
        started.close(kill=not finished)


def _collect(done: set[Future], running: dict[Future, WorkUnit],
             lost: list[WorkUnit]) -> list[ShardResult]:
    """Take finished futures out of `running`: their results, and (into `lost`) the units
    whose worker died under them."""
    results = []
    for fut in done:
        unit = running.pop(fut)
        if isinstance(fut.exception(), BrokenProcessPool):
            lost.append(unit)
        else:
            results.append(fut.result())
    return results


def _refill(
    pool: ProcessPoolExecutor,
    running: dict[Future, WorkUnit],
    state: _Retry,
    job: Job,
    workers: int,
) -> bool:
    """Give every idle worker a unit; False when the pool turned out to be broken."""
    if state.suspects:  # alone, so a second death names its unit
        return bool(running) or _submit(pool, running, state.suspects, job)
    while state.todo and len(running) < workers:
        if not _submit(pool, running, state.todo, job):
            return False
    return True


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
