"""A pool that breaks while it is being refilled loses no unit (a scan once reported `done`
without a shard whose worker died at that moment: 1 run in ~12 of test_worker_death's)."""

from __future__ import annotations

import queue
from collections import deque
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

from corpus_scan.documents import ReadOptions, Source
from corpus_scan.run.executor import Job, WorkerPool, _Retry, _run_pool
from corpus_scan.run.units import WorkUnit
from corpus_scan.store.parts import ShardResult


class _BreakingPool:
    """Stands in for ProcessPoolExecutor: the 1st unit finishes at once, the 2nd is still
    running when the 3rd submit finds the pool broken (its worker died), as a real pool
    then fails every pending future."""

    def __init__(self) -> None:
        self._processes: dict = {}
        self.futures: list[Future] = []

    def submit(self, fn, arg):  # noqa: ANN001, ANN201 - the executor's signature
        unit = arg[0]
        if len(self.futures) == 2:
            for fut in self.futures:
                if not fut.done():
                    fut.set_exception(BrokenProcessPool("a worker died"))
            raise BrokenProcessPool("a worker died")
        fut: Future = Future()
        if not self.futures:
            fut.set_result(ShardResult(unit.shard_id, unit.source.path, "jsonl", None, 1, 0.0))
        self.futures.append(fut)
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def test_a_unit_in_flight_when_the_refill_finds_the_pool_broken_is_retried() -> None:
    units = [WorkUnit(i, Source(f"s{i}.jsonl", "jsonl", None, 1, 0.0)) for i in range(3)]
    state = _Retry(deque(units))
    ticks: queue.Queue = queue.Queue()
    ticks.close = lambda: None  # type: ignore[attr-defined]  # an mp.Queue's method
    started = WorkerPool(_BreakingPool(), ticks)  # type: ignore[arg-type]
    job = Job(ReadOptions(), None)  # type: ignore[arg-type]  # never run: the pool is fake
    results = list(_run_pool(started, state, job, lambda d, b: None, workers=2))
    assert [r.shard_id for r in results] == [0]
    assert list(state.suspects) == [units[1]]  # to be run again, alone; not forgotten
    assert list(state.todo) == [units[2]]
    assert state.crashes == {(1, 0): 1} and state.idle_breaks == 0


def test_a_shard_missing_a_part_is_committed_failed_not_dropped() -> None:
    from corpus_scan.run.scan import _whole_shards

    src = Source("big.jsonl", "jsonl", None, 1, 0.0)
    units = [WorkUnit(0, src, 0, 2), WorkUnit(0, src, 1, 2)]
    part = ShardResult(0, src.path, "jsonl", None, 1, 0.0, n_docs=5)
    [got] = list(_whole_shards(units, iter([part])))
    assert got.status == "failed" and got.lost and got.n_docs == 0
    assert "only 1 of 2 part(s) came back" in (got.error or "")
    # a whole shard that never came back is failed too, unless --limit stopped the scan
    lone = [WorkUnit(1, Source("small.jsonl", "jsonl", None, 1, 0.0))]
    [gone] = list(_whole_shards(lone, iter([])))
    assert gone.status == "failed" and "only 0 of 1 part(s)" in (gone.error or "")
    assert list(_whole_shards(lone, iter([]), expect_all=False)) == []
