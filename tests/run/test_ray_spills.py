"""Candidate rows of Ray actors wait in spill files, not in memory: on this machine the actors
write them; on a cluster they hand them to the scanning process (`run/shipped_spills.py`),
which writes them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from corpus_fixtures import NEGATIVE_AI, NEGATIVE_SHUTDOWN, POSITIVE, tables, write_jsonl  # noqa: E402

from corpus_scan.detect.cascade import DetectorConfig  # noqa: E402
from corpus_scan.documents import ReadOptions  # noqa: E402
from corpus_scan.run.executor import Job  # noqa: E402
from corpus_scan.run.scan import scan  # noqa: E402
from corpus_scan.sources import discover  # noqa: E402

LEXICAL = DetectorConfig(scorer="lexical")


def _rich_corpus(root: Path) -> Path:
    """One shard of 3,200 documents, 2,133 of them candidates: one spilled chunk (a shard
    spills once a batch leaves it holding 2,048 candidates or more)."""
    root.mkdir()
    recs = [{"id": f"r{i}", "text": f"{POSITIVE if i % 3 else NEGATIVE_AI} ({i})"}
            for i in range(3200)]
    write_jsonl(root / "rich.jsonl", recs)
    return root


@pytest.mark.parametrize("where", ["this machine", "cluster"])
def test_actors_spill_candidate_rows(
    ray_session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A shard of 2,133 candidates leaves one spill file for the commit and the tables equal a
    local scan's. Ray on this machine: the actor writes the file. With a cluster address,
    actors may not see the spill folder beside the database: they hand each chunk to the
    scanning process, which writes the file itself (its PID is in the name)."""
    from corpus_scan.store import db as db_module

    root = _rich_corpus(tmp_path / "rich")
    local = tmp_path / "local.duckdb"
    scan([str(root)], local, detector=LEXICAL, workers=1)
    committed: list[str] = []
    real_delete = db_module.delete_spills

    def recording(paths: list[str]) -> None:
        committed.extend(paths)
        real_delete(paths)

    monkeypatch.setattr(db_module, "delete_spills", recording)
    db = tmp_path / "ray.duckdb"
    # the module's session stands for a cluster when the scan is given its address
    address = ray.get_runtime_context().gcs_address if where == "cluster" else None
    report = scan([str(root)], db, detector=LEXICAL, workers=2, executor="ray",
                  ray_address=address)
    assert report.status == "done" and report.totals["n_candidates"] == 2133
    assert len(committed) == 1 and not Path(committed[0]).exists()
    by_caller = f"-{os.getpid()}-" in Path(committed[0]).name
    assert by_caller == (where == "cluster")
    assert tables(db) == tables(local)
    assert list(tmp_path.glob(".ray.duckdb.spill-*")) == []

def test_a_shipped_unit_whose_actor_dies_leaves_no_file(ray_session, tmp_path: Path) -> None:
    """An actor that dies after handing over chunks: the retried unit's chunk is the only
    file in the spill folder, and the results equal a clean run's."""
    from corpus_scan.run.ray_executor import _as_units, _drive
    from corpus_scan.run.shipped_spills import ShippedSpills
    from corpus_scan.store.spill import read_spills

    root = _rich_corpus(tmp_path / "rich")
    other = tmp_path / "other.jsonl"
    write_jsonl(other, [{"id": f"o{i}", "text": NEGATIVE_SHUTDOWN} for i in range(50)])
    sources, _ = discover([str(root), str(other)])
    items = list(enumerate(sources))
    rich_id = next(i for i, s in items if s.path.endswith("rich.jsonl"))
    folder = tmp_path / "spill"
    folder.mkdir()
    job = Job(ReadOptions(), LEXICAL)
    token = tmp_path / "die-once"
    token.touch()

    from corpus_scan.run.ray_executor import _ShardWorker

    class DiesAfterScanning(_ShardWorker):
        def run(self, unit, job, limit):  # type: ignore[no-untyped-def]
            result = super().run(unit, job, limit)  # its chunk is held or already taken
            if unit.shard_id == rich_id and os.path.exists(token):
                os.unlink(token)
                os._exit(13)
            return result

    actor_cls = ray.remote(num_cpus=1, max_concurrency=2, max_restarts=0)(DiesAfterScanning)
    actors = [actor_cls.remote(job, True) for _ in range(2)]
    try:
        got = list(_drive(ray, actor_cls, actors, _as_units(items), job, lambda d, b: None,
                          ShippedSpills(ray, str(folder))))
    finally:
        for actor in actors:
            ray.kill(actor)
    assert not token.exists()  # the actor did die once
    rich = next(r for r in got if r.shard_id == rich_id)
    assert rich.status == "done" and rich.n_candidates == 2133
    assert len(rich.spills) == 1 and sorted(folder.iterdir()) == [Path(rich.spills[0])]
    (chunk,) = read_spills(rich.spills)
    assert len(chunk["candidates"]["row"]) + len(rich.candidates["row"]) == 2133


def test_a_chunk_that_never_arrives_fails_the_unit(tmp_path: Path) -> None:
    from corpus_scan.run.shipped_spills import ShippedSpills
    from corpus_scan.run.units import WorkUnit
    from corpus_scan.store.parts import ShardResult

    (source,), _ = discover([str(write_jsonl(tmp_path / "a.jsonl", [{"text": "x"}]))])
    unit = WorkUnit(0, source)
    spills = ShippedSpills(ray, str(tmp_path))
    spills.start((0, 0))
    result = ShardResult.for_source(0, source, n_docs=1, spills=["ray-chunk:0:0:0"])
    settled = spills.settle(unit, result)
    assert settled.status == "failed" and settled.lost and settled.n_docs == 0
    assert "did not come back from the Ray worker" in settled.error


def test_a_slow_answer_is_collected_later_not_dropped(ray_session, tmp_path: Path) -> None:
    """An actor that answers `take_chunks` after the poll stopped waiting: its chunk is
    written at the next poll (the answer was kept), and settle finds it."""
    from corpus_scan.run.shipped_spills import POLL_TIMEOUT, ShippedSpills
    from corpus_scan.run.units import WorkUnit
    from corpus_scan.store.parts import ShardResult
    from corpus_scan.store.spill import read_spills

    class Slow:
        def __init__(self) -> None:
            self.calls = 0

        def take_chunks(self):  # type: ignore[no-untyped-def]
            import time

            self.calls += 1
            if self.calls == 1:
                time.sleep(POLL_TIMEOUT * 2)
                return {(0, 0): [("ray-chunk:0:0:0", {"candidates": {"row": [7]}})]}
            return {}

    actor = ray.remote(Slow).remote()
    (source,), _ = discover([str(write_jsonl(tmp_path / "a.jsonl", [{"text": "x"}]))])
    folder = tmp_path / "spill"
    folder.mkdir()
    spills = ShippedSpills(ray, str(folder))
    spills.start((0, 0))
    spills.fetch([actor])  # gives up waiting after POLL_TIMEOUT
    assert list(folder.iterdir()) == []
    spills.fetch([actor], finished=actor)  # the unit returned: every answer is awaited
    result = spills.settle(WorkUnit(0, source),
                           ShardResult.for_source(0, source, spills=["ray-chunk:0:0:0"]))
    assert result.status == "done" and len(result.spills) == 1
    assert list(read_spills(result.spills)) == [{"candidates": {"row": [7]}}]
    ray.kill(actor)
