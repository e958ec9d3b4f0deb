"""`filter` under faults: SIGKILLed at random points, a disk that fills up (ENOSPC injected into
the writer, and a real per-file size limit), an unwritable output folder. Never a partial shard
under a final name, one clear line for the user, and the same command resumes to the very bytes
of an uninterrupted run."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reliability_helpers import (
    ENV,
    TINY,
    cli,
    corpus,
    drop_write_permission,
    error_line,
    file_size_limit,
    run,
)

from corpus_scan.documents import InputError
from corpus_scan.run.scan import scan
from corpus_scan.shards import filter_shards
from corpus_scan.shards import writer as writer_module
from corpus_scan.shards.manifest import MANIFEST, STATE


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("filter-faults")
    root = corpus(base / "corpus", n_shards=10, n_docs=4000, noise=6)
    db = base / "scan.duckdb"
    assert scan([str(root)], db, detector=TINY).status == "done"
    return db


def _final_files(out: Path) -> dict[str, bytes]:
    """Files under their final names (hidden temporaries and the state log excluded)."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _shards(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k != MANIFEST}


def _manifest_entries(out: Path) -> list[dict]:
    return json.loads((out / MANIFEST).read_text())["shards"]


def _done(out: Path) -> int:
    """Shards under their final names so far."""
    try:
        return sum(1 for e in os.scandir(out) if e.name.endswith(".parquet"))
    except FileNotFoundError:
        return 0


def _filter_argv(db: Path, out: Path, *extra: str) -> list[str]:
    return cli("filter", "--db", str(db), "--out", str(out), *extra)


def test_filter_sigkilled_at_random_points_then_resumed(scanned: Path, tmp_path: Path) -> None:
    clean_out = tmp_path / "clean"
    done = run(_filter_argv(scanned, clean_out))
    assert done.returncode == 0, done.stderr[-3000:]
    clean = _final_files(clean_out)
    work = json.loads((clean_out / MANIFEST).read_text())["seconds"]  # without start-up

    out = tmp_path / "out"
    n = len(clean) - 1
    rng = random.Random(5)
    kills = 0
    while kills < 4:
        target = min(n - 1, _done(out) + rng.randint(1, 3))  # kill while writing shard target+1
        proc = subprocess.Popen(
            _filter_argv(scanned, out), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while _done(out) < target and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 1.0) * work / n)  # somewhere within the next shard
        if proc.poll() is not None:  # finished before the kill: nothing more to prove
            assert proc.returncode == 0, proc.stderr.read().decode()[-3000:]
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        got = _final_files(out)
        for name, data in _shards(got).items():  # every shard under its final name is whole
            assert data == clean[name], name
        if MANIFEST in got:  # killed after the manifest: the output is complete
            assert _shards(got) == _shards(clean)
            assert _manifest_entries(out) == _manifest_entries(clean_out)
            break
    else:
        final = run(_filter_argv(scanned, out))
        assert final.returncode == 0, final.stderr[-3000:]
    assert kills >= 2
    assert _shards(_final_files(out)) == _shards(clean)
    assert _manifest_entries(out) == _manifest_entries(clean_out)


@pytest.mark.parametrize(("fmt", "sink"), [("parquet", "ParquetSink"), ("jsonl.gz", "JsonlSink")])
def test_no_space_left_is_one_line_and_resumes(
    scanned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, sink: str
) -> None:
    clean = _final_files(filter_shards(scanned, tmp_path / "clean", fmt=fmt) and tmp_path / "clean")
    cls = getattr(writer_module, sink)
    real_write = cls.write
    calls = {"n": 0}

    def full_disk(self, data):
        calls["n"] += 1
        if calls["n"] == 5:  # some shards are done, one is half written
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(cls, "write", full_disk)
    out = tmp_path / "out"
    with pytest.raises(InputError) as info:
        filter_shards(scanned, out, fmt=fmt)
    message = str(info.value)
    assert "\n" not in message and "No space left on device" in message
    assert "cannot write the filter output" in message and str(out) in message
    got = _final_files(out)
    assert 0 < len(got) < len(clean) - 1 and MANIFEST not in got
    assert all(clean[name] == data for name, data in got.items())  # no partial shard
    assert [p.name for p in out.rglob(".*")] == [STATE]  # the temporary file was removed
    monkeypatch.setattr(cls, "write", real_write)
    report = filter_shards(scanned, out, fmt=fmt)  # the same job resumes
    assert report.reused == len(got)
    assert _shards(_final_files(out)) == _shards(clean)


def test_real_disk_full_is_one_line_and_resumes(scanned: Path, tmp_path: Path) -> None:
    clean_out = tmp_path / "clean"
    filter_shards(scanned, clean_out)
    clean = _final_files(clean_out)
    biggest = max(len(v) for v in _shards(clean).values())
    out = tmp_path / "out"
    proc = run(_filter_argv(scanned, out), preexec_fn=file_size_limit(biggest // 2))
    line = error_line(proc)
    assert proc.returncode == 2
    assert "cannot write the filter output" in line and "File too large" in line
    got = _final_files(out)
    assert MANIFEST not in got and all(clean[k] == v for k, v in got.items())
    assert not list(out.rglob(".*.tmp-*"))
    again = run(_filter_argv(scanned, out))
    assert again.returncode == 0, again.stderr[-3000:]
    assert _shards(_final_files(out)) == _shards(clean)


def test_unwritable_output_folder_is_one_line(scanned: Path, tmp_path: Path) -> None:
    prefix = drop_write_permission()
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    for out in (ro, ro / "new"):  # an existing read-only folder; a folder it cannot create
        proc = run([*prefix, *_filter_argv(scanned, out)])
        line = error_line(proc)
        assert proc.returncode == 2
        assert f"{out}: cannot write the filter output: Permission denied" in line
    assert list(ro.iterdir()) == []


def test_unreadable_input_is_named_not_blamed_on_the_output(tmp_path: Path) -> None:
    prefix = drop_write_permission()
    root = tmp_path / "corpus"
    root.mkdir()
    pq.write_table(pa.table({"text": ["one", "two"]}), root / "a.parquet")
    (root / "b.jsonl").write_text('{"text": "three"}\n')
    db = tmp_path / "x.duckdb"
    assert scan([str(root)], db, detector=TINY).status == "done"
    for name in ("a.parquet", "b.jsonl"):
        (root / name).chmod(0)
        proc = run([*prefix, *_filter_argv(db, tmp_path / f"out-{name}")])
        line = error_line(proc)
        assert proc.returncode == 2
        assert str(root / name) in line and "Permission denied" in line
        assert "filter output" not in line  # an input problem, reported as one
        (root / name).chmod(0o644)
