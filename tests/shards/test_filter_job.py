"""The job around the shards: refusals, --overwrite, atomic shards, crash and resume."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from shards_helpers import LEXICAL

from corpus_scan.documents import InputError
from corpus_scan.run.scan import scan
from corpus_scan.shards import filter_shards
from corpus_scan.shards import shard as shard_module
from corpus_scan.shards.manifest import STATE


def _final_files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_changed_source_is_refused(fresh, tmp_path: Path):
    corpus, db = fresh
    path = corpus.root / "news" / "a.jsonl"
    os.utime(path, (1_000_000, 1_000_000))
    with pytest.raises(InputError, match=r"a\.jsonl: changed since the scan"):
        filter_shards(db, tmp_path / "out")
    path.unlink()
    with pytest.raises(InputError, match=r"a\.jsonl: No such file"):
        filter_shards(db, tmp_path / "out")


def test_failed_shard_is_refused_by_name(tmp_path: Path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "ok.jsonl").write_text('{"text": "hello"}\n')
    blob = gzip.compress(b"".join(b'{"text": "line %d"}\n' % i for i in range(3000)))
    (root / "cut.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    db = tmp_path / "x.duckdb"
    assert scan([str(root)], db, detector=LEXICAL).status == "incomplete"
    with pytest.raises(InputError, match=r"1 shard\(s\) failed to scan.*cut\.jsonl\.gz") as exc:
        filter_shards(db, tmp_path / "out")
    # the path once, then the scan's whole first error line (it used to be cut at 120 chars)
    msg = str(exc.value)
    assert msg.count("cut.jsonl.gz") == 1, msg
    assert "line" in msg.split("cut.jsonl.gz: ", 1)[1], msg


def test_unfinished_or_limited_runs_are_refused(tmp_path: Path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.jsonl").write_text('{"text": "one"}\n{"text": "two"}\n')
    db = tmp_path / "x.duckdb"
    scan([str(root)], db, detector=LEXICAL, limit=1)
    with pytest.raises(InputError, match="--limit"):
        filter_shards(db, tmp_path / "out")
    con = duckdb.connect(str(db))
    con.execute("UPDATE runs SET status = 'interrupted'")
    con.close()
    with pytest.raises(InputError, match="no finished scan run"):
        filter_shards(db, tmp_path / "out")
    with pytest.raises(InputError, match="run 1 is 'interrupted'"):
        filter_shards(db, tmp_path / "out", run_id=1)


def test_counts_that_disagree_with_the_scan_are_refused(scanned, tmp_path: Path):
    _, db = scanned
    con = duckdb.connect(str(db))
    con.execute("UPDATE shards SET n_docs = n_docs + 1 WHERE path LIKE '%b.jsonl.gz'")
    con.close()
    with pytest.raises(InputError, match=r"b\.jsonl\.gz: read does not match the scan"):
        filter_shards(db, tmp_path / "out")
    assert not (tmp_path / "out" / "news" / "b.parquet").exists()
    assert not [p for p in (tmp_path / "out").rglob(".*.tmp-*")]


def test_rows_that_do_not_line_up_are_refused(scanned, tmp_path: Path):
    _, db = scanned
    con = duckdb.connect(str(db))
    con.execute("UPDATE candidates SET doc_id = 'someone-else' WHERE row = 2 AND shard_id = 0")
    con.close()
    with pytest.raises(InputError, match="rows do not line up"):
        filter_shards(db, tmp_path / "out")


def test_non_empty_output_folder_and_overwrite(scanned, tmp_path: Path):
    _, db = scanned
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty; pass --overwrite"):
        filter_shards(db, out)
    first = filter_shards(db, out, overwrite=True, fmt="jsonl.gz")
    assert (out / "notes.txt").read_text() == "mine"  # files we did not write are kept
    with pytest.raises(InputError, match="finished filter output"):
        filter_shards(db, out)
    again = filter_shards(db, out, overwrite=True, fmt="parquet", mode="keep")
    outputs = {e["output"] for e in again.shards if e["written"]}  # empty shards: no file
    assert not any(p.name.endswith(".jsonl.gz") for p in out.rglob("*"))  # old job's files gone
    assert {str(p.relative_to(out)) for p in out.rglob("*.parquet")} == outputs
    assert first.totals["input_docs"] == again.totals["input_docs"]


def test_output_may_not_replace_an_input(scanned, tmp_path: Path):
    corpus, db = scanned
    with pytest.raises(InputError, match="would replace an input"):
        filter_shards(db, corpus.root, overwrite=True)


def test_exception_mid_shard_leaves_no_shard_under_its_name(scanned, tmp_path, monkeypatch):
    _, db = scanned
    real_add = shard_module.ShardFilter.add
    calls = {"n": 0}

    def failing_add(self, batch, flagged, cands):
        calls["n"] += 1
        if calls["n"] == 5:  # news/a.jsonl (12 docs, batches of 4) is done; b.jsonl.gz is open
            raise KeyboardInterrupt
        real_add(self, batch, flagged, cands)

    monkeypatch.setattr(shard_module.ShardFilter, "add", failing_add)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        filter_shards(db, out)
    assert (out / "news" / "a.parquet").exists()
    assert not (out / "news" / "b.parquet").exists()
    assert not list(out.rglob(".*.tmp-*")) and not (out / "manifest.json").exists()
    monkeypatch.setattr(shard_module.ShardFilter, "add", real_add)
    report = filter_shards(db, out)  # the same job: resumed, not refused
    assert report.reused == 1
    got, clean = _final_files(out), _final_files(_clean_run(db, tmp_path / "clean"))
    assert got.keys() == clean.keys()
    assert {k: v for k, v in got.items() if k != "manifest.json"} == {
        k: v for k, v in clean.items() if k != "manifest.json"
    }  # the same job writes the same bytes
    entries = json.loads(got["manifest.json"])["shards"]
    assert entries == json.loads(clean["manifest.json"])["shards"]


def _clean_run(db: Path, out: Path, **kw) -> Path:
    filter_shards(db, out, **kw)
    return out


_CRASH = textwrap.dedent(
    """
    import os, sys
    from corpus_scan.shards import filter_shards
    from corpus_scan.shards import writer

    real = writer.JsonlSink.write
    calls = {"n": 0}

    def dying_write(self, lines):
        calls["n"] += 1
        real(self, lines)
        if calls["n"] == 5:  # second shard, data already in its temporary file
            self._gz.flush()
            os._exit(17)  # a hard kill: no cleanup runs

    writer.JsonlSink.write = dying_write
    filter_shards(sys.argv[1], sys.argv[2], fmt="jsonl.gz", mode="annotate")
    """
)


def test_killed_job_leaves_only_temporaries_and_resumes(scanned, tmp_path: Path):
    _, db = scanned
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH, str(db), str(out)], capture_output=True, timeout=120
    )
    assert proc.returncode == 17, proc.stderr.decode()[-2000:]
    leftovers = [p.name for p in out.rglob(".*.tmp-*")]
    assert leftovers == [".b.jsonl.gz.tmp-" + leftovers[0].rsplit("-", 1)[1]]
    assert (out / "news" / "a.jsonl.gz").exists() and not (out / "news" / "b.jsonl.gz").exists()
    assert (out / STATE).exists() and not (out / "manifest.json").exists()
    with pytest.raises(InputError, match="unfinished filter job with other settings"):
        filter_shards(db, out, fmt="jsonl.gz", mode="drop")
    report = filter_shards(db, out, fmt="jsonl.gz", mode="annotate")
    assert report.reused == 1
    assert not list(out.rglob(".*"))  # temporaries and the state log are gone
    clean = _final_files(_clean_run(db, tmp_path / "clean", fmt="jsonl.gz", mode="annotate"))
    got = _final_files(out)
    assert got.keys() == clean.keys()
    for name, data in got.items():
        if name != "manifest.json":
            assert data == clean[name], name
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["output"] for e in manifest["shards"]] == [
        "news/a.jsonl.gz",
        "news/b.jsonl.gz",
        "story.jsonl.gz",
        "tables/c.jsonl.gz",
        "tables/d.jsonl.gz",
    ]


_SIGNAL_IN_PANDAS_IMPORT = textwrap.dedent(
    """
    import sys
    from corpus_scan.shards import filter_shards

    class SignalDuringImport:  # as if Ctrl-C landed while pandas is being imported
        def find_spec(self, name, path=None, target=None):
            if name == "pandas":
                sys.meta_path.remove(self)
                raise KeyboardInterrupt

    assert "pandas" not in sys.modules, "premise gone: pandas is imported before the filter"
    sys.meta_path.insert(0, SignalDuringImport())
    try:
        filter_shards(sys.argv[1], sys.argv[2])
    except KeyboardInterrupt:
        sys.exit(42)
    """
)


def test_a_signal_during_the_lazy_pandas_import_stops_the_job(scanned, tmp_path: Path):
    """pyarrow imports pandas from Cython code that swallows exceptions; the job must stop
    anyway, not finish as if no Ctrl-C had come."""
    _, db = scanned
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", _SIGNAL_IN_PANDAS_IMPORT, str(db), str(out)],
                          capture_output=True, timeout=120)
    assert proc.returncode == 42, proc.stderr.decode()[-2000:]
    assert not (out / "manifest.json").exists()


def test_default_run_is_the_one_that_finished_last(tmp_path: Path):
    """A resumed older run can finish after a newer one: filter, report and topics all pick
    the run that finished last, and a refusal names the run it picked."""
    from corpus_scan.analyze import report, topics

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.jsonl").write_text('{"id": "a1", "text": "first"}\n')
    (tmp_path / "b" / "y.jsonl").write_text('{"id": "b1", "text": "second"}\n')
    db = tmp_path / "x.duckdb"
    scan([str(tmp_path / "a")], db, detector=LEXICAL)
    scan([str(tmp_path / "b")], db, detector=LEXICAL)
    con = duckdb.connect(str(db))
    con.execute("UPDATE runs SET finished_at = finished_at + INTERVAL 1 HOUR WHERE run_id = 1")
    con.close()
    assert filter_shards(db, tmp_path / "out").run_id == 1
    assert report(db, tmp_path / "rep").run_id == 1
    assert topics(db).run_id == 1
    (tmp_path / "a" / "x.jsonl").unlink()
    with pytest.raises(InputError, match=r"run 1: .*x\.jsonl.*--run"):
        filter_shards(db, tmp_path / "out2")
    assert filter_shards(db, tmp_path / "out2", run_id=2).run_id == 2


def test_triage_on_a_stale_fit_is_warned_about(fresh, tmp_path: Path):
    corpus, db = fresh
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO topic_fits (fit_id, run_id, fitted_at) VALUES "
                "(1, 1, now()::TIMESTAMP + INTERVAL 1 DAY)")  # fmt: skip
    con.execute("INSERT INTO topic_marks VALUES (1, 1, 1, 0, 'exclude', 'me', now())")
    con.close()
    assert filter_shards(db, tmp_path / "a").warnings == []
    con = duckdb.connect(str(db))
    con.execute("UPDATE topic_fits SET fitted_at = TIMESTAMP '2000-01-01'")
    con.close()
    late = filter_shards(db, tmp_path / "b")
    assert len(late.warnings) == 1 and "topics --refit" in late.warnings[0]
    assert filter_shards(db, tmp_path / "c", threshold=0.5).warnings == []  # no triage used
