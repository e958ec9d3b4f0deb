"""End-to-end scans into a real DuckDB file: counts, resume, failures, limits, workers."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shlex
import signal
import time
from pathlib import Path

import duckdb
import pytest
import typer
from corpus_fixtures import tables

import corpus_scan.run.scan as scan_module
from corpus_scan.cli_common import run_interruptible
from corpus_scan.detect.cascade import DetectorConfig
from corpus_scan.documents import InputError, ReadOptions
from corpus_scan.run.scan import scan
from corpus_scan.store import db as db_module
from corpus_scan.store.query import sql

LEXICAL = DetectorConfig(scorer="lexical")


def test_scan_counts_every_record_once(small_corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    report = scan([str(small_corpus)], db, detector=LEXICAL)
    assert report.status == "done" and report.ok
    t = report.totals
    # 3 x 30 good docs, part-3: 2 good + 2 bad (bad JSON, missing text), part-4: 2 good
    assert (t["n_shards"], t["n_docs"], t["n_bad"]) == (5, 94, 2)
    n_pos = sql("SELECT count(*) FROM hits", db).rows[0][0]
    # the positive text occurs 10 times per generated shard, once in part-3 and once in part-4
    assert n_pos == 32
    ids = sql("SELECT doc_id FROM hits WHERE shard LIKE '%part-4.jsonl'", db).rows
    assert ids == [(f"{small_corpus / 'part-4.jsonl'}:0",)]
    rows = sql("SELECT row, line, reason FROM bad_records ORDER BY row", db).rows
    assert [r[:2] for r in rows] == [(1, 2), (2, 3)]
    assert "text" in rows[1][2]


def test_rerun_is_a_no_op_and_new_run_is_separate(small_corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    scan([str(small_corpus)], db, detector=LEXICAL)
    before = tables(db)
    again = scan([str(small_corpus)], db, detector=LEXICAL)
    assert again.status == "already-done" and tables(db) == before
    fresh = scan([str(small_corpus)], db, detector=LEXICAL, new_run=True)
    assert fresh.run_id == 2
    assert sql("SELECT count(DISTINCT run_id) FROM candidates", db).rows[0][0] == 2


def test_interrupted_scan_resumes_to_identical_tables(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tmp_path / "whole.duckdb"
    scan([str(small_corpus)], whole, detector=LEXICAL)

    cut = tmp_path / "cut.duckdb"
    real_commit = db_module.Store.commit_shards
    calls = {"n": 0}

    def dying_commit(self, run_id, results):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as if killed while the third shard was being committed
        real_commit(self, run_id, results)

    monkeypatch.setattr(scan_module, "GROUP_SHARDS", 1)  # one commit per shard
    monkeypatch.setattr(db_module.Store, "commit_shards", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        scan([str(small_corpus)], cut, detector=LEXICAL)
    monkeypatch.setattr(db_module.Store, "commit_shards", real_commit)
    assert sql("SELECT count(*) FROM shards", cut).rows[0][0] == 2
    # resumed with another batch size: the same run (batches change no row or score)
    resumed = scan([str(small_corpus)], cut, detector=LEXICAL,
                   read_options=ReadOptions(batch_size=3))  # fmt: skip
    assert resumed.resumed and resumed.shards_run == 3 and resumed.run_id == 1
    assert tables(cut) == tables(whole)


def test_truncated_gzip_marks_shard_failed_and_keeps_going(tmp_path: Path) -> None:
    data = b"".join(b'{"text": "line %d about nothing"}\n' % i for i in range(5000))
    blob = gzip.compress(data)
    (tmp_path / "cut.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    (tmp_path / "ok.jsonl").write_bytes(b'{"text": "hello"}\n')
    db = tmp_path / "x.duckdb"
    inputs = [str(tmp_path / "cut.jsonl.gz"), str(tmp_path / "ok.jsonl")]
    report = scan(inputs, db, detector=LEXICAL)
    assert report.status == "incomplete" and len(report.failed) == 1
    path, error = report.failed[0]
    assert path.endswith("cut.jsonl.gz") and "cut.jsonl.gz" in error
    status = dict(sql("SELECT path, status FROM shards", db).rows)
    assert status[str(tmp_path / "ok.jsonl")] == "done"


def test_limit_stops_exactly(small_corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    report = scan([str(small_corpus)], db, detector=LEXICAL, limit=45)
    assert report.totals["n_docs"] == 45
    # the shards scanned now are those read before the limit, not every shard planned
    assert report.shards_run == report.totals["n_shards"] < report.shards_total
    # interrupted before its last shard was committed: the resume reads only what the limit
    # leaves, not another 45 documents
    want = tables(db)
    con = duckdb.connect(str(db))
    (last,) = con.execute("SELECT max(shard_id) FROM shards").fetchone()
    for table in ("candidates", "passages", "bad_records", "shards"):
        con.execute(f"DELETE FROM {table} WHERE shard_id = ?", [last])
    con.execute("UPDATE runs SET status = 'interrupted'")
    con.close()
    again = scan([str(small_corpus)], db, detector=LEXICAL, limit=45)
    assert again.resumed and again.totals["n_docs"] == 45
    assert tables(db) == want


def test_two_workers_give_the_same_tables(small_corpus: Path, tmp_path: Path) -> None:
    scan([str(small_corpus)], tmp_path / "one.duckdb", detector=LEXICAL, workers=1)
    scan([str(small_corpus)], tmp_path / "two.duckdb", detector=LEXICAL, workers=2)
    assert tables(tmp_path / "one.duckdb") == tables(tmp_path / "two.duckdb")


def test_missing_input_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.jsonl"):
        scan([str(tmp_path / "nope.jsonl")], tmp_path / "x.duckdb", detector=LEXICAL)


def test_sql_is_read_only_by_default(small_corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    scan([str(small_corpus)], db, detector=LEXICAL)
    with pytest.raises(InputError, match="--write"):
        sql("DELETE FROM candidates", db)
    sql("CREATE VIEW mine AS SELECT 1 AS one", db, write=True)
    assert sql("SELECT one FROM mine", db).rows == [(1,)]


def test_sql_without_write_writes_no_files(small_corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    scan([str(small_corpus)], db, detector=LEXICAL)
    out = tmp_path / "export.csv"
    for query in (
        f"COPY (SELECT * FROM candidates) TO '{out}'",
        f"SELECT 1; COPY candidates TO '{out}'",
        f"EXPORT DATABASE '{tmp_path / 'dump'}'",
        f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
        f"SET log_query_path = '{out}'; SELECT 1",
        f"SET profiling_output = '{out}'",
        f"CALL enable_logging(storage='file', storage_path='{tmp_path / 'log'}'); SELECT 1",
        f"SET extension_directories = ['{tmp_path / 'ext'}']",
    ):
        with pytest.raises(InputError, match="refused.*--write"):
            sql(query, db)
    assert sql("SET threads = 1; SELECT 1", db).rows == [(1,)]  # other settings are fine
    with pytest.raises(InputError, match="sqlite_scanner extension"):  # never fetched
        sql(f"SELECT * FROM sqlite_scan('{tmp_path / 'x.db'}', 't')", db)
    assert not (tmp_path / "log").exists() and not (tmp_path / "ext").exists()
    assert not out.exists() and not (tmp_path / "dump").exists()
    assert not (tmp_path / "other.duckdb").exists()
    sql(f"COPY (SELECT count(*) AS n FROM candidates) TO '{out}'", db, write=True)
    assert sql(f"SELECT n FROM read_csv('{out}')", db).rows  # reading files stays allowed


def test_database_file_opens_in_older_duckdb_clients(small_corpus: Path, tmp_path: Path) -> None:
    """The DuckDB CLI on PyPI (1.5) cannot read DuckDB 2.0's default storage format, so scan
    databases are written in the format DuckDB 1.2+ reads."""
    db = tmp_path / "x.duckdb"
    scan([str(small_corpus)], db, detector=LEXICAL)
    con = duckdb.connect(str(db), read_only=True)
    try:
        tags = dict(con.execute("SELECT database_name, tags FROM duckdb_databases()").fetchall())
    finally:
        con.close()
    assert tags["x"]["storage_version"].startswith("v1.2.0")


def test_sql_on_missing_db_is_clear(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such database"):
        sql("SELECT 1", tmp_path / "none.duckdb")


def test_cli_scan_write_filtered(small_corpus: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from corpus_scan.cli import app

    out = tmp_path / "clean"
    result = CliRunner().invoke(
        app,
        [
            "scan",
            str(small_corpus),
            "--db",
            str(tmp_path / "x.duckdb"),
            "--detector",
            "lexical",
            "--no-progress",
            "--write-filtered",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["mode"] == "drop"
    assert manifest["totals"]["input_docs"] == 94 and manifest["totals"]["dropped"] == 32


def test_parallel_scans_with_a_head_start_equal_a_serial_scan(
    small_corpus: Path, tmp_path: Path
) -> None:
    """Workers start on the first shards before the database is opened when the scan cannot be
    a resume (a new file; --new-run on an existing one); a resume hands out only the shards
    left. Every way gives the serial scan's tables, each document counted once."""
    from corpus_scan.run.executor import start_method

    assert start_method() in ("fork", "spawn")
    serial, par = tmp_path / "serial.duckdb", tmp_path / "par.duckdb"
    scan([str(small_corpus)], serial, detector=LEXICAL, workers=1)
    first = scan([str(small_corpus)], par, detector=LEXICAL, workers=2)  # new file
    second = scan([str(small_corpus)], par, detector=LEXICAL, workers=2, new_run=True)
    assert first.status == second.status == "done" and second.run_id == first.run_id + 1
    want, got = tables(serial), tables(par)
    for name in ("shards", "candidates", "bad"):
        for run_id in (first.run_id, second.run_id):
            mine = [r[1:] for r in got[name] if r[0] == run_id]  # r[0] is the run id
            assert mine == [r[1:] for r in want[name]], (name, run_id)
    # a resume: drop one finished shard of run 2 and re-run the same scan
    con = duckdb.connect(str(par))
    con.execute("UPDATE shards SET status = 'failed' WHERE run_id = ? AND shard_id = 2",
                [second.run_id])
    con.execute("UPDATE runs SET status = 'incomplete' WHERE run_id = ?", [second.run_id])
    con.close()
    again = scan([str(small_corpus)], par, detector=LEXICAL, workers=2, new_run=False)
    assert again.resumed and again.shards_run == 1 and again.docs_read > 0
    assert [r for r in tables(par)["shards"] if r[0] == second.run_id] == [
        r for r in got["shards"] if r[0] == second.run_id
    ]


def test_worker_columns_name_the_table_columns() -> None:
    """Workers fill column lists by name; the commit inserts them BY NAME, so a column missing
    from these lists would be NULL in every row."""
    from corpus_scan.store.parts import BAD_COLUMNS, CANDIDATE_COLUMNS, PASSAGE_COLUMNS
    from corpus_scan.store.schema import DDL

    con = duckdb.connect()
    for statement in DDL:
        con.execute(statement)
    for table, columns in (
        ("candidates", CANDIDATE_COLUMNS),
        ("passages", PASSAGE_COLUMNS),
        ("bad_records", BAD_COLUMNS),
    ):
        names = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
        assert [n for (n,) in names if n != "run_id"] == list(columns), table


def test_cli_bad_records_hint_names_the_database(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from corpus_scan.cli import app

    src = tmp_path / "docs.jsonl"
    src.write_text('{"id": "a", "text": "hello"}\n{not json\n', encoding="utf-8")
    db = tmp_path / "my hits.duckdb"
    res = CliRunner().invoke(
        app, ["scan", str(src), "--db", str(db), "--detector", "lexical", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    hint = next(x for x in res.output.splitlines() if x.startswith("bad records (first"))
    command = hint.split(": ", 1)[1].split("; ")[0]
    argv = shlex.split(command)
    assert argv[:4] == ["corpus-scan", "sql", "--db", str(db)]  # pasted as shown, it runs
    again = CliRunner().invoke(app, argv[1:])
    assert again.exit_code == 0, again.output
    assert "1" in again.output


def test_cli_sql_csv_uses_unix_line_ends(small_corpus: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from corpus_scan.cli import app

    db = tmp_path / "x.duckdb"
    scan([str(small_corpus)], db, detector=LEXICAL, workers=1)
    res = CliRunner().invoke(app, ["sql", "--db", str(db), "--format", "csv",
                                   "SELECT shard_id, n_docs FROM shards ORDER BY 1"])
    assert res.exit_code == 0, res.output
    assert "\r" not in res.output and res.output.startswith("shard_id,n_docs\n")
    # a CR, LF or CRLF inside a value is quoted, so the record survives an RFC 4180 reader
    cells = "SELECT 'a' || chr(13) || 'b' AS cr, 'c' || chr(10) || 'd' AS lf, 'e,f' AS comma"
    raw = CliRunner().invoke(app, ["sql", "--db", str(db), "--format", "csv", cells])
    assert raw.exit_code == 0, raw.output
    assert raw.output == 'cr,lf,comma\n"a\rb","c\nd","e,f"\n'
    assert list(csv.reader(io.StringIO(raw.output, newline=""))) == [
        ["cr", "lf", "comma"], ["a\rb", "c\nd", "e,f"]
    ]
    query = "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, 1.5::DOUBLE AS c"
    js = CliRunner().invoke(app, ["sql", "--db", str(db), "--format", "json", query])
    assert js.exit_code == 0, js.output
    assert json.loads(js.output, parse_constant=lambda c: pytest.fail(c)) == [
        {"a": None, "b": None, "c": 1.5}
    ]
    # nested values are JSON in CSV (they were Python reprs: [{'kind': ...}], Decimal('1.5'),
    # b'...'), and a NaN inside a list is null in JSON (it used to stop the command)
    nested = ("SELECT [{'k': 'ai', 'n': 1}] AS s, [1.5::DECIMAL(4,1)] AS d, "
              "'\\x01'::BLOB AS b, ['nan'::DOUBLE, 2.0] AS f")
    raw = CliRunner().invoke(app, ["sql", "--db", str(db), "--format", "csv", nested])
    assert raw.exit_code == 0, raw.output
    assert list(csv.reader(io.StringIO(raw.output, newline="")))[1] == [
        '[{"k": "ai", "n": 1}]', "[1.5]", "01", "[null, 2.0]"]
    js = CliRunner().invoke(app, ["sql", "--db", str(db), "--format", "json", nested])
    assert js.exit_code == 0, js.output
    assert json.loads(js.output)[0]["f"] == [None, 2.0]
    for empty in ("", "  ", ";"):
        res = CliRunner().invoke(app, ["sql", "--db", str(db), empty])
        assert res.exit_code == 2 and "query is empty" in res.output, res.output
    # a name twice (a join's n_docs of two tables) keeps both values in JSON, as in CSV
    twice = "SELECT 1 AS a, 2 AS a, 3 AS a_1"
    js = CliRunner().invoke(app, ["sql", "--db", str(db), "--format", "json", twice])
    assert json.loads(js.output) == [{"a": 1, "a_2": 2, "a_1": 3}], js.output
    narrow = CliRunner().invoke(app, ["sql", "--db", str(db), "--max-width", "0", "SELECT 1"])
    assert narrow.exit_code == 2 and "--max-width" in narrow.output, narrow.output


def test_a_signal_that_surfaces_as_another_error_is_still_an_interrupt() -> None:
    """DuckDB turns a KeyboardInterrupt that lands mid-query into its own error: the command
    still ends with the interrupt's one line and exit 128 + 15, not a traceback."""

    def commit() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        except KeyboardInterrupt:
            raise RuntimeError("Query interrupted") from None

    before = signal.getsignal(signal.SIGTERM)  # not always SIG_DFL: Ray installs its own
    with pytest.raises(typer.Exit) as exit_info:
        run_interruptible("x.duckdb: scan interrupted", commit)
    assert exit_info.value.exit_code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back


def test_passages_commit_in_slices_and_carry_compact_embeddings(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard's rows wait in memory until its commit (up to `SPILL_ROWS` candidates at a time,
    `store.spill`): embeddings travel as float32 arrays
    (a list of Python floats took ~8x the memory: 30,000 candidates of one file peaked at
    1.6 GB) and are inserted a slice at a time. Slicing changes nothing in the tables."""
    from corpus_scan.documents import ReadOptions
    from corpus_scan.run.shard import process_shard
    from corpus_scan.sources import discover

    static = DetectorConfig(scorer="static")
    sources, _ = discover([str(small_corpus)])
    result = process_shard(sources[0], 0, ReadOptions(), static)
    emb = [e for e in result.passages["embedding"] if e is not None]
    assert emb and all(getattr(e, "dtype", None) == "float32" for e in emb)

    whole, sliced = tmp_path / "whole.duckdb", tmp_path / "sliced.duckdb"
    scan([str(small_corpus)], whole, detector=static)
    monkeypatch.setattr(db_module, "INSERT_SLICE", 3)
    scan([str(small_corpus)], sliced, detector=static)
    assert tables(sliced) == tables(whole)
    q = "SELECT shard_id, row, passage, text, score, embedding FROM passages ORDER BY ALL"
    got = [duckdb.connect(str(p), read_only=True).execute(q).fetchall() for p in (whole, sliced)]
    assert got[0] == got[1] and len(got[0]) > 3


def test_a_failed_shard_retried_replaces_its_first_attempt(
    small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits skip the DELETEs for shards the run never committed (they have no rows); a
    shard that failed keeps its row, so its retry must still replace what the failed attempt
    left (here part-3's bad records) and count nothing twice."""
    from corpus_scan.documents import ShardReadError
    from corpus_scan.run import shard as shard_module

    whole = tmp_path / "whole.duckdb"
    scan([str(small_corpus)], whole, detector=LEXICAL, workers=1)
    real = shard_module.read_source

    def flaky(source, *args, **kwargs):
        for batch in real(source, *args, **kwargs):
            yield batch
            if source.path.endswith("part-3.jsonl"):
                raise ShardReadError(f"{source.path}: a transient read error")

    db = tmp_path / "x.duckdb"
    monkeypatch.setattr(shard_module, "read_source", flaky)
    first = scan([str(small_corpus)], db, detector=LEXICAL, workers=1)
    assert first.status == "incomplete"
    assert sql("SELECT count(*) FROM bad_records", db).rows[0][0] > 0
    monkeypatch.setattr(shard_module, "read_source", real)
    again = scan([str(small_corpus)], db, detector=LEXICAL, workers=1)
    assert again.resumed and again.status == "done"
    assert tables(db) == tables(whole)


def test_limit_counts_only_the_bytes_it_read(tmp_path: Path) -> None:
    """A batch cut by --limit used to count every byte of the batch (hub: 490,440 "bytes" for
    40,212 characters read); it now counts the kept share."""
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps({"text": f"doc {i:04d} " + "x" * 90}) + "\n"
                            for i in range(100)), encoding="utf-8")
    db = tmp_path / "x.duckdb"
    scan([str(path)], db, detector=LEXICAL, limit=10, workers=1)
    n_docs, n_chars, n_bytes = sql("SELECT n_docs, n_chars, n_bytes FROM shards", db).rows[0]
    assert n_docs == 10 and n_chars == 10 * 99
    assert abs(n_bytes - path.stat().st_size / 10) <= 2


def test_a_file_written_to_while_it_is_read_fails_its_shard(tmp_path: Path) -> None:
    """Its counts would match neither version of the file: the shard fails, naming why,
    instead of being recorded with the old size and the new documents."""
    from corpus_scan.run.shard import process_shard
    from corpus_scan.sources import discover

    path = tmp_path / "growing.jsonl"
    path.write_text("".join(f'{{"text": "line {i}"}}\n' for i in range(20)))
    sources, _ = discover([str(path)])

    def append(_docs: int, _bytes: int) -> None:
        with path.open("a") as fh:
            fh.write('{"text": "written during the scan"}\n')

    result = process_shard(sources[0], 0, ReadOptions(batch_size=5), LEXICAL, progress=append)
    assert result.status == "failed"
    assert "changed while it was being scanned" in result.error
    again = process_shard(discover([str(path)])[0][0], 0, ReadOptions(batch_size=5), LEXICAL)
    assert again.status == "done" and again.n_docs == len(path.read_text().splitlines())
