"""The Ray executor gives the same database tables as the local executor."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from corpus_fixtures import (  # noqa: E402
    NEGATIVE_AI,
    NEGATIVE_SHUTDOWN,
    POSITIVE,
    tables,
    write_jsonl,
)

from corpus_scan.detect.cascade import DetectorConfig  # noqa: E402
from corpus_scan.documents import ReadOptions  # noqa: E402
from corpus_scan.run.executor import Job  # noqa: E402
from corpus_scan.run.ray_executor import run_ray  # noqa: E402
from corpus_scan.run.scan import scan  # noqa: E402
from corpus_scan.sources import discover  # noqa: E402

LEXICAL = DetectorConfig(scorer="lexical")


def _corpus(root: Path) -> Path:
    """Six shards (plain and gzip JSONL), positives among negatives, one bad line."""
    root.mkdir()
    texts = [POSITIVE, NEGATIVE_SHUTDOWN, NEGATIVE_AI, "plain text about gardening " * 20]
    for k in range(6):
        recs = [{"id": f"{k}-{i}", "text": f"{texts[(i + k) % 4]} ({i})"} for i in range(400)]
        name = f"shard-{k}.jsonl" + (".gz" if k % 2 else "")
        write_jsonl(root / name, recs, gz=bool(k % 2))
    with open(root / "shard-0.jsonl", "ab") as fh:
        fh.write(b"{not json\n")
    return root


def test_run_ray_starts_and_stops_its_own_instance(tmp_path: Path) -> None:
    """Runs before the module's shared session: run_ray starts a private instance in the
    given temp dir and shuts it down when the iterator is exhausted."""
    corpus = _corpus(tmp_path / "corpus")
    sources, _ = discover([str(corpus)])
    tmp = tempfile.mkdtemp(prefix="r", dir="/tmp")
    try:
        assert not ray.is_initialized()
        results = list(
            run_ray(
                list(enumerate(sources)),
                Job(ReadOptions(), LEXICAL),
                lambda d, b: None,
                2,
                temp_dir=tmp,
            )
        )
        assert not ray.is_initialized()
        assert sum(r.n_candidates for r in results) == 600
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("during", ["init", "shutdown"])
def test_a_signal_during_ray_start_or_teardown_leaves_nothing(
    tmp_path: Path, monkeypatch, during: str
) -> None:
    """Ctrl-C that lands inside `ray.init` used to leave Ray's agents running ~60 s after the
    scan, its session folder in /tmp, and sometimes a segmentation fault; one that lands in
    the teardown after the last shard left the folder (3 of 5 late interrupts). Now the signal
    is held until Ray is down and its folder removed, then it acts."""
    import signal

    from corpus_scan.run import ray_executor

    made: list[str] = []
    real_mkdtemp, real = tempfile.mkdtemp, getattr(ray, during)

    def mkdtemp(*args, **kwargs):
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]

    def interrupted(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)  # the user's Ctrl-C, while Ray starts / stops
        return real(*args, **kwargs)

    monkeypatch.delenv("RAY_TMPDIR", raising=False)
    monkeypatch.setattr(ray_executor.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(ray, during, interrupted)
    sources, _ = discover([str(_corpus(tmp_path / "corpus"))])
    with pytest.raises(KeyboardInterrupt):
        list(run_ray(list(enumerate(sources)), Job(ReadOptions(), LEXICAL),
                     lambda d, b: None, 2))
    monkeypatch.setattr(ray, during, real)
    assert not ray.is_initialized()
    assert made and not Path(made[0]).exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ray_scan_equals_local_scan(
    ray_session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = _corpus(tmp_path / "corpus")
    local = scan([str(corpus)], tmp_path / "local.duckdb", detector=LEXICAL, workers=1)
    report = scan(
        [str(corpus)], tmp_path / "ray.duckdb", detector=LEXICAL, workers=2, executor="ray"
    )
    assert report.status == "done" and report.shards_run == 6
    assert report.totals["n_docs"] == 2400 and report.totals["n_bad"] == 1
    assert report.docs_read == local.docs_read == 2400  # progress ticks add up exactly
    assert report.bytes_read == local.bytes_read
    got, want = tables(tmp_path / "ray.duckdb"), tables(tmp_path / "local.duckdb")
    assert got["shards"] == want["shards"]
    assert got["candidates"] == want["candidates"]
    assert got["bad"] == want["bad"]
    assert len(got["candidates"]) == 600  # every POSITIVE, none of the negatives


def test_ray_honours_limit_and_reports_failed_shards(ray_session, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    (corpus / "broken.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    sources, _ = discover([str(corpus)])
    items = list(enumerate(sources))
    ticks: list[tuple[int, int]] = []
    results = list(
        run_ray(
            items, Job(ReadOptions(), LEXICAL, limit=1000), lambda d, b: ticks.append((d, b)), 2
        )
    )
    assert sum(r.n_docs for r in results) == 1000 == sum(d for d, _ in ticks)
    everything = list(run_ray(items, Job(ReadOptions(), LEXICAL), lambda d, b: None, 2))
    assert sorted(r.shard_id for r in everything) == list(range(len(items)))
    failed = [r for r in everything if r.status == "failed"]
    assert len(failed) == 1 and "broken.jsonl.gz" in failed[0].error


def test_missing_ray_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from corpus_scan.documents import InputError
    from corpus_scan.run import ray_executor

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(InputError, match=r"corpus-scan\[cluster\]"):
        list(ray_executor.run_ray([(0, None)], Job(ReadOptions(), LEXICAL), lambda d, b: None, 1))


def _dying_actor(shard_id: int, token: Path | None):
    """A Ray actor class whose process dies (os._exit, like a segfault or the OOM killer) when
    it gets shard `shard_id`: once if `token` exists (it removes it first), else every time.
    Defined in a function so Ray pickles it by value for its worker processes."""
    import os

    from corpus_scan.run.ray_executor import _ShardWorker

    class Dying(_ShardWorker):
        def run(self, unit, job, limit):  # type: ignore[no-untyped-def]
            if unit.shard_id == shard_id:
                if token is None:
                    os._exit(13)
                try:
                    os.unlink(token)
                except FileNotFoundError:
                    pass
                else:
                    os._exit(13)
            return super().run(unit, job, limit)

    return ray.remote(num_cpus=1, max_concurrency=2, max_restarts=0)(Dying)


def _drive_with(actor_cls, items, job: Job) -> list:
    from corpus_scan.run.ray_executor import _as_units, _drive

    actors = [actor_cls.remote(job) for _ in range(2)]
    try:
        return list(_drive(ray, actor_cls, actors, _as_units(items), job, lambda d, b: None))
    finally:
        for actor in actors:
            ray.kill(actor)


def test_ray_worker_that_dies_once_is_retried(ray_session, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    sources, _ = discover([str(corpus)])
    items = list(enumerate(sources))
    job = Job(ReadOptions(), LEXICAL)
    token = tmp_path / "die-once"
    token.touch()
    got = _drive_with(_dying_actor(2, token), items, job)
    assert not token.exists()  # the actor did die once
    want = list(run_ray(items, job, lambda d, b: None, 2))

    def summary(results: list) -> list[tuple]:
        return sorted((r.shard_id, r.status, r.n_docs, r.n_candidates, r.n_bad) for r in results)

    assert summary(got) == summary(want)
    assert all(r.status == "done" for r in got)


def test_ray_worker_that_dies_twice_fails_only_that_shard(ray_session, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    sources, _ = discover([str(corpus)])
    items = list(enumerate(sources))
    got = _drive_with(_dying_actor(3, None), items, Job(ReadOptions(), LEXICAL))
    assert sorted(r.shard_id for r in got) == list(range(len(items)))  # one result per unit
    failed = [r for r in got if r.status == "failed"]
    assert [r.shard_id for r in failed] == [3]
    assert failed[0].lost and failed[0].n_docs == 0
    assert "Ray worker died while scanning this shard, twice" in failed[0].error
    assert sources[3].path in failed[0].error
    assert sum(r.n_docs for r in got) == 2000  # the five other shards, 400 documents each
