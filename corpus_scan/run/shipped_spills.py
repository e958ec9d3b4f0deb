"""Candidate row chunks that Ray actors on other machines hand to the scanning process.

An actor on a cluster node may not see the run's spill folder (`store.spill`), which lives
beside the database on the caller's machine. With `ship_spills`, an actor keeps each chunk of
`SPILL_ROWS` candidates it would have written there, under a name it puts in its
ShardResult.spills, until the caller takes it (`_ShardWorker.take_chunks`, every poll and
once more when the unit's result arrives). The caller writes each chunk to its own spill
folder and, when the result arrives, puts the file paths in place of the names. An actor
thus holds at most the chunks of one poll interval, and the caller none in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from corpus_scan.run.units import WorkUnit, lost_result
from corpus_scan.store.parts import ShardResult
from corpus_scan.store.spill import delete_spills, write_spill

Key = tuple[int, int]  # (shard_id, part)
POLL_TIMEOUT = 1.0  # seconds a poll waits for the actors' answers


class ShippedSpills:
    """The chunk files of the units running now, by unit and by the name the actor gave."""

    def __init__(self, ray: Any, folder: str) -> None:
        self._ray = ray
        self._folder = folder
        self._files: dict[Key, dict[str, str]] = {}
        self._pending: dict[Any, Any] = {}  # take_chunks answer -> the actor asked

    def start(self, key: Key) -> None:
        self.discard(key)  # a retried unit starts from nothing
        self._files[key] = {}

    def fetch(self, actors: Iterable[Any], *, finished: Any = None) -> None:
        """Ask these actors for the chunks they hold and write what has come back. An answer
        that takes over POLL_TIMEOUT seconds is collected at a later call, never dropped.
        `finished`: an actor whose unit has just returned, whose every answer is awaited."""
        for actor in actors:
            self._pending[actor.take_chunks.remote()] = actor
        if not self._pending:
            return
        ready, _ = self._ray.wait(list(self._pending), num_returns=len(self._pending),
                                  timeout=POLL_TIMEOUT)
        if finished is not None:  # its run is over, so its answers are on their way
            ready += [ref for ref, a in self._pending.items() if a == finished and ref not in ready]
        for ref in ready:
            del self._pending[ref]
            self._write(ref)

    def _write(self, ref: Any) -> None:
        from ray.exceptions import RayActorError, WorkerCrashedError

        try:
            held = self._ray.get(ref)
        except (RayActorError, WorkerCrashedError):
            return  # a dead actor: its unit's own result reports the death
        for key, chunks in held.items():
            files = self._files.get(key)
            if files is None:
                continue  # a unit given up on (its actor died)
            for name, rows in chunks:
                files[name] = write_spill(self._folder, key[0], key[1], rows)

    def settle(self, unit: WorkUnit, result: ShardResult) -> ShardResult:
        """The result with file paths in place of chunk names (call `fetch` on its actor
        first). A chunk that never arrived fails the unit with nothing of it counted."""
        files = self._files.pop((unit.shard_id, unit.part), {})
        missing = [name for name in result.spills if name not in files]
        if missing:
            delete_spills(list(files.values()))
            return lost_result(unit, f"{unit.source.path}: {len(missing)} chunk(s) of candidate "
                                     "rows did not come back from the Ray worker; nothing of "
                                     "this shard was counted (re-run the scan to retry it)")
        result.spills = [files[name] for name in result.spills]
        return result

    def discard(self, key: Key) -> None:
        delete_spills(list(self._files.pop(key, {}).values()))
