"""The Ray executor: shards run on a fixed set of Ray actors, results come back to the caller.

Same contract as `run_processes` (executor.py): take work units (a shard, or part k of n of a
big one; plain (shard_id, Source) pairs work too), yield one ShardResult per unit in completion
order, report progress through `on_progress(docs, bytes)`.
Only the calling process ever opens the DuckDB file; actors hand back ShardResults (plain,
picklable data) through Ray's object store.

Candidate rows do not wait in an actor's memory for its shard to finish (`store.spill`). On
this machine actors write them to the run's spill folder, as the local workers do. On a
cluster (`ship_spills`, the default with `address`) that folder may not exist on the actor's
node, so an actor holds each chunk of `SPILL_ROWS` candidates only until the caller's next poll
(every POLL_SECONDS), which takes it and writes it to the spill folder on the caller's side.

Each actor builds the detector (`get_cascade`) once in its constructor, so models load once per
worker, not once per shard. An actor runs one shard at a time and, being a two-thread actor,
also answers progress polls while it works, so the caller sees per-batch progress. An actor
that dies mid-unit (killed, out of memory, a crash in native code) is replaced by a fresh one;
its unit is retried once, and a second death marks that shard failed with nothing of it counted
(the contract of `run_processes`). Progress ticks of a dead attempt are not taken back.

    ray.init(address=...)   when `address` is given (an existing cluster: corpus-scan must be
                            installed on every node and the input paths readable from them);
    ray.init(num_cpus=workers, ...)   otherwise, a private local instance whose session files
                            live in `temp_dir`, else $RAY_TMPDIR, else a fresh /tmp/r* folder
                            (removed afterwards). A Ray instance this function started is shut
                            down when the iterator finishes or is closed.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from corpus_scan.documents import InputError, Source
from corpus_scan.run.executor import Job, OnProgress
from corpus_scan.run.shipped_spills import ShippedSpills
from corpus_scan.run.units import WorkUnit, lost_result
from corpus_scan.store.parts import ShardResult

POLL_SECONDS = 0.5  # how often busy actors are asked for their per-batch progress


@contextmanager
def _signals_held() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM for the block and list those that arrived. A signal that lands
    inside `ray.init` leaves a half-started node that `ray.shutdown` cannot reach: its agents
    outlived the scan by ~60 s, its session folder stayed in /tmp, and 2 of 14 such
    interrupts ended in a segmentation fault. Ray starts in a few seconds, so the user waits
    that long at most. Outside the main thread signals cannot be held, and nothing is."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    names = (signal.SIGINT, signal.SIGTERM)
    before = {n: signal.getsignal(n) for n in names}
    for n in names:
        signal.signal(n, lambda signum, _frame: held.append(signum))
    try:
        yield held
    finally:
        for n, handler in before.items():
            signal.signal(n, signal.SIG_DFL if handler is None else handler)


def _remove(folder: str) -> None:
    """Remove Ray's session folder; Ray processes still exiting may write into it meanwhile
    (seen once: an empty folder left in /tmp), so try again for up to a second."""
    for _ in range(5):
        shutil.rmtree(folder, ignore_errors=True)
        if not os.path.exists(folder):
            return
        time.sleep(0.2)


def _import_ray() -> Any:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise InputError(
            "the Ray executor needs `pip install corpus-scan[cluster]` (ray is not installed)"
        ) from None
    return ray


class _ShardWorker:
    """Body of the Ray actor (wrapped with `ray.remote` at run time, so ray stays optional)."""

    def __init__(self, job: Job, ship_spills: bool = False) -> None:
        from corpus_scan.detect.cascade import get_cascade

        # One CPU per actor (num_cpus=1): one torch thread, as in run_processes' workers
        # (corpus_scan.detect.embed only infers that for multiprocessing children).
        os.environ.setdefault("CORPUS_SCAN_TORCH_THREADS", "1")
        self._lock = threading.Lock()
        self._ticks: dict[tuple[int, int], list[int]] = {}  # unit key -> [docs, bytes] unpolled
        self._ship = ship_spills
        self._chunks: dict[tuple[int, int], list[tuple[str, dict]]] = {}  # key -> (name, rows)
        get_cascade(job.detector)  # models load once per actor, before the first shard

    def run(self, unit: WorkUnit, job: Job, limit: int | None) -> ShardResult:
        from corpus_scan.run.shard import process_shard

        key = (unit.shard_id, unit.part)

        def tick(docs: int, nbytes: int) -> None:
            with self._lock:
                acc = self._ticks.setdefault(key, [0, 0])
                acc[0] += docs
                acc[1] += nbytes

        kwargs: dict[str, Any] = {"limit": limit, "progress": tick, "spill_dir": job.spill_dir}
        if self._ship:
            numbers = itertools.count()

            def hold(rows: dict[str, dict[str, list]]) -> str:
                name = f"ray-chunk:{unit.shard_id}:{unit.part}:{next(numbers)}"
                with self._lock:
                    self._chunks.setdefault(key, []).append((name, rows))
                return name

            kwargs.update(spill_dir=None, spill_sink=hold)
        if unit.n_parts > 1:
            kwargs["part"] = (unit.part, unit.n_parts)
        return process_shard(unit.source, unit.shard_id, job.read_options, job.detector, **kwargs)

    def progress(self) -> dict[tuple[int, int], list[int]]:
        with self._lock:
            ticks, self._ticks = self._ticks, {}
        return ticks

    def take_chunks(self) -> dict[tuple[int, int], list[tuple[str, dict]]]:
        """The row chunks held since the last call (`ship_spills`), oldest first."""
        with self._lock:
            chunks, self._chunks = self._chunks, {}
        return chunks


def _crashed(unit: WorkUnit, exc: BaseException) -> ShardResult:
    """A unit whose actor died twice (killed, out of memory, segfault): failed, not fatal,
    and nothing of its shard is counted (as `run_processes` does)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    part = f" (part {unit.part + 1} of {unit.n_parts})" if unit.n_parts > 1 else ""
    error = (
        f"{unit.source.path}{part}: the Ray worker died while scanning this shard, twice; "
        f"nothing of it was counted (re-run the scan to retry it): "
        f"{type(exc).__name__}: {message}"
    )
    return lost_result(unit, error[:2000])


def _as_units(items: Sequence[WorkUnit | tuple[int, Source]]) -> list[WorkUnit]:
    return [i if isinstance(i, WorkUnit) else WorkUnit(i[0], i[1]) for i in items]


def run_ray(
    items: Sequence[WorkUnit | tuple[int, Source]],
    job: Job,
    on_progress: OnProgress,
    workers: int,
    address: str | None = None,
    *,
    temp_dir: str | None = None,
    ship_spills: bool | None = None,
) -> Iterator[ShardResult]:
    """Run `process_shard` for every work unit on `workers` Ray actors; yield one ShardResult
    per unit as it finishes (the caller merges the parts of split shards, as for
    `run_processes`). Items may be WorkUnits or plain (shard_id, Source) pairs (whole shards).

    `ship_spills` (default: True with `address`): actors hand their candidate row chunks to
    this process, which writes them to `job.spill_dir`, instead of writing there themselves.

    With `job.limit` set, units run one after another (on one actor) so the limit is honoured
    exactly across shards, as `run_local` does.
    """
    ray = _import_ray()
    units = _as_units(items)
    if not units:
        return
    workers = max(1, int(workers))
    started_here = False
    made_temp: str | None = None
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
        }
        if address:
            kwargs["address"] = address
        else:
            root = temp_dir or os.environ.get("RAY_TMPDIR")
            if root is None:
                # Short on purpose: Ray's socket paths under it must stay below 108 chars.
                root = made_temp = tempfile.mkdtemp(prefix="r", dir="/tmp")
            kwargs.update(num_cpus=workers, _temp_dir=os.path.abspath(root))
        try:
            with _signals_held() as held:
                ray.init(**kwargs)
        except Exception as exc:
            if made_temp:
                _remove(made_temp)
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise InputError(f"cannot start {where}: {type(exc).__name__}: {exc}") from None
        if held:  # Ctrl-C / SIGTERM while Ray started: stop it whole, then let the signal act
            ray.shutdown()
            if made_temp:
                _remove(made_temp)
            signal.raise_signal(held[0])
        started_here = True

    ship = (address is not None if ship_spills is None else ship_spills) and bool(job.spill_dir)
    actor_job = dataclasses.replace(job, spill_dir=None) if ship else job
    actor_cls = ray.remote(num_cpus=1, max_concurrency=2, max_restarts=0)(_ShardWorker)
    n_actors = 1 if job.limit is not None else min(workers, len(units))
    actors: list[Any] = []
    try:
        actors = [actor_cls.remote(actor_job, ship) for _ in range(n_actors)]
        chunks = ShippedSpills(ray, str(job.spill_dir)) if ship else None
        yield from _drive(ray, actor_cls, actors, units, actor_job, on_progress, chunks)
    finally:
        for actor in actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already dead
                pass
        if started_here:
            # a Ctrl-C that lands during the teardown (the scan's last commits are done by
            # then) waits until Ray is down and its folder removed, then acts: it used to stop
            # the teardown and leave the session folder in /tmp
            with _signals_held() as held:
                ray.shutdown()
                if made_temp:
                    _remove(made_temp)
            if held:
                signal.raise_signal(held[0])


def _drive(
    ray: Any,
    actor_cls: Any,
    actors: list[Any],
    units: list[WorkUnit],
    job: Job,
    on_progress: OnProgress,
    chunks: ShippedSpills | None = None,
) -> Iterator[ShardResult]:
    from ray.exceptions import RayActorError, WorkerCrashedError

    todo = list(reversed(units))  # pop() from the end keeps the given order
    idle = list(actors)
    running: dict[Any, tuple[Any, WorkUnit]] = {}  # object ref -> (actor, unit)
    reported: dict[tuple[int, int], list[int]] = {}  # unit key -> [docs, bytes] passed on
    remaining = job.limit
    last_poll = time.monotonic()
    crashes: dict[tuple[int, int], int] = {}  # unit key -> deaths of the actor running it

    def submit() -> None:
        while idle and todo and (remaining is None or (remaining > 0 and not running)):
            actor, unit = idle.pop(), todo.pop()
            running[actor.run.remote(unit, job, remaining)] = (actor, unit)
            reported[(unit.shard_id, unit.part)] = [0, 0]
            if chunks is not None:
                chunks.start((unit.shard_id, unit.part))

    submit()
    while running:
        ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
        if not ready or time.monotonic() - last_poll >= POLL_SECONDS:
            _poll(ray, running, reported, on_progress)
            if chunks is not None:
                chunks.fetch(actor for actor, _ in running.values())
            last_poll = time.monotonic()
        for ref in ready:
            actor, unit = running.pop(ref)
            key = (unit.shard_id, unit.part)
            try:
                result: ShardResult = ray.get(ref)
                if chunks is not None:
                    chunks.fetch([actor], finished=actor)
                    result = chunks.settle(unit, result)
            except (RayActorError, WorkerCrashedError) as exc:
                if chunks is not None:
                    chunks.discard(key)
                actors.remove(actor)
                # a fresh actor takes the dead one's place
                actor = actor_cls.remote(job, chunks is not None)
                actors.append(actor)
                crashes[key] = crashes.get(key, 0) + 1
                if crashes[key] < 2:  # once may be bad luck (OOM next door): retry it next
                    idle.append(actor)
                    todo.append(unit)
                    reported.pop(key, None)
                    continue
                result = _crashed(unit, exc)
            done = reported.pop(key)
            if result.n_docs - done[0] or result.n_bytes - done[1]:
                on_progress(result.n_docs - done[0], result.n_bytes - done[1])
            idle.append(actor)
            if remaining is not None:
                remaining -= result.n_docs
            yield result
        submit()


def _poll(
    ray: Any,
    running: dict[Any, tuple[Any, WorkUnit]],
    reported: dict[tuple[int, int], list[int]],
    on_progress: OnProgress,
) -> None:
    """Pass on the per-batch ticks of busy actors; late ticks of finished units are dropped
    (their remainder is reported from the ShardResult itself, so totals stay exact)."""
    refs = [actor.progress.remote() for actor, _ in running.values()]
    try:
        polled = ray.get(refs, timeout=5)
    except Exception:  # noqa: BLE001 - progress is best-effort; results are what count
        return
    for ticks in polled:
        for key, (docs, nbytes) in ticks.items():
            acc = reported.get(key)
            if acc is None:
                continue
            acc[0] += docs
            acc[1] += nbytes
            if docs or nbytes:
                on_progress(docs, nbytes)
