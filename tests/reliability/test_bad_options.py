"""Bad option values: one line naming the option (exit 2) before anything is read or written,
never a traceback and never a run that quietly cannot flag anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus_scan.cli import app
from corpus_scan.detect.cascade import DetectorConfig
from corpus_scan.documents import InputError
from corpus_scan.run.scan import scan
from corpus_scan.shards import filter_shards

LEXICAL = ["--detector", "lexical", "--no-progress"]


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--detector", "bogus"], "unknown detector 'bogus'"),
        (["--window", "-1"], "--window must be a positive number"),
        (["--device", "bogus"], "--device must be auto, cpu, cuda or cuda:N"),
        (["--threshold", "2"], "--threshold must lie between 0 and 1"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--limit", "-5"], "--limit must be at least 1"),
        (["--workers", "-1"], "workers must be at least 1"),
    ],
)
def test_scan_refuses_a_bad_option_in_one_line(
    small_corpus: Path, tmp_path: Path, option: list[str], message: str
) -> None:
    db = tmp_path / "x.duckdb"
    result = _cli("scan", str(small_corpus), "--db", str(db), *option)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not db.exists()  # refused before the database was made


def test_eval_and_train_refuse_a_bad_device(tmp_path: Path) -> None:
    labeled = tmp_path / "l.jsonl"
    labeled.write_text('{"text": "x", "label": 0}\n')
    for args in (["eval", str(labeled)], ["train", "--out", str(tmp_path / "h")]):
        result = _cli(*args, "--device", "gpu0")
        assert result.exit_code == 2, result.output
        assert "--device must be auto, cpu, cuda or cuda:N, not 'gpu0'" in result.output
        absent = _cli(*args, "--device", "cuda:99")  # spelled right, but no such GPU here
        assert absent.exit_code == 2 and "torch sees no such CUDA device" in absent.output
        assert "Traceback" not in absent.output


def test_the_library_refuses_the_same_values(small_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown detector"):
        DetectorConfig(scorer="keywords")
    with pytest.raises(InputError, match="between 0 and 1"):
        DetectorConfig(threshold=-0.1)
    assert DetectorConfig(device="cuda:1").device == "cuda:1"
    with pytest.raises(InputError, match="--limit must be at least 1"):
        scan([str(small_corpus)], tmp_path / "x.duckdb", limit=0)


def test_the_library_takes_one_input_and_a_detector_name(
    small_corpus: Path, tmp_path: Path
) -> None:
    """`scan("corpus/")` used to scan each character of the string as a path, and
    `detector="lexical"` failed with an AttributeError."""
    one = scan(small_corpus, tmp_path / "a.duckdb", detector="lexical")
    config = DetectorConfig(scorer="lexical")
    listed = scan([str(small_corpus)], tmp_path / "b.duckdb", detector=config)
    assert one.totals["n_docs"] == listed.totals["n_docs"] > 0
    with pytest.raises(InputError, match="no inputs to scan"):
        scan([], tmp_path / "c.duckdb")
    assert not (tmp_path / "c.duckdb").exists()
    with pytest.raises(InputError, match="unknown detector"):
        scan(small_corpus, tmp_path / "d.duckdb", detector="keywords")


def test_a_limited_run_is_refused_by_filter_with_the_reason(
    small_corpus: Path, tmp_path: Path
) -> None:
    """A scan stopped by --limit is `done` but covers only its first documents: filter says
    so (it used to say "re-run the same scan to complete it", which then had nothing to do)."""
    db = tmp_path / "x.duckdb"
    scan([str(small_corpus)], db, detector=DetectorConfig(scorer="lexical"), limit=5)
    with pytest.raises(InputError, match=r"stopped by --limit 5: .* without --limit"):
        filter_shards(db, tmp_path / "out")
    result = _cli("scan", str(small_corpus), "--db", str(tmp_path / "y.duckdb"), *LEXICAL,
                  "--limit", "5", "--write-filtered", str(tmp_path / "wf"))
    assert result.exit_code == 2 and "--write-filtered needs a complete scan" in result.output
    assert not (tmp_path / "y.duckdb").exists()


def test_filter_refuses_a_threshold_outside_0_1(small_corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    scan([str(small_corpus)], db, detector=DetectorConfig(scorer="lexical"))
    result = _cli("filter", "--db", str(db), "--out", str(tmp_path / "o"), "--threshold", "3")
    assert result.exit_code == 2 and "--threshold must lie between 0 and 1" in result.output
    assert not (tmp_path / "o").exists()


def test_json_output_stays_one_document_with_write_filtered(
    small_corpus: Path, tmp_path: Path
) -> None:
    db, out = tmp_path / "x.duckdb", tmp_path / "clean"
    result = _cli("scan", str(small_corpus), "--db", str(db), *LEXICAL, "--json",
                  "--write-filtered", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # one JSON document: the filter's summary inside
    assert summary["n_docs"] == 94 and summary["filter"]["dropped"] == 32
    assert summary["filter"]["manifest"] == str(out / "manifest.json")
    again = _cli("filter", "--db", str(db), "--out", str(tmp_path / "again"), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["written"] == 94 - 32


def test_the_console_names_the_first_bad_record_of_each_kind(tmp_path: Path) -> None:
    """A bad record is counted and skipped; the summary names its file and line (one line per
    kind of fault, so a file of a thousand records without a text field is one line)."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{broken\n{"id": "c"}\n{"id": "d"}\n'
                   '{"id": "e", "text": null}\n')
    result = _cli("scan", str(bad), "--db", str(tmp_path / "x.duckdb"), *LEXICAL)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("bad record:")]
    assert [line.split(": ", 3)[1:3] for line in lines] == [
        [str(bad), "line 2"], [str(bad), "line 3"], [str(bad), "line 5"]]
    assert "invalid JSON" in lines[0] and "field 'text' missing" in lines[1]
    assert "field 'text' is null" in lines[2]
    assert "... 1 more bad records" in result.output
    as_json = _cli("scan", str(bad), "--db", str(tmp_path / "y.duckdb"), *LEXICAL, "--json")
    first = json.loads(as_json.stdout)["bad_records_first"]
    assert [(r["line"], r["row"]) for r in first] == [(2, 1), (3, 2), (5, 4)]


def test_a_database_error_is_one_line_not_a_traceback(capsys: pytest.CaptureFixture) -> None:
    """A WAL that cannot be written beside a database in a read-only folder surfaced as a
    66-line traceback, exit 1 (the code of a failed shard); now one line, exit 2."""
    import duckdb
    import typer

    from corpus_scan.cli_common import run_interruptible

    def commit() -> None:
        raise duckdb.TransactionException(
            'TransactionContext Error: Failed to commit: Cannot open file "x.duckdb.wal": '
            "Permission denied")

    with pytest.raises(typer.Exit) as exc:
        run_interruptible("x.duckdb: scan interrupted", commit)
    assert exc.value.exit_code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Permission denied (is its folder writable" in err


def test_version() -> None:
    from corpus_scan import __version__

    result = _cli("--version")
    assert result.exit_code == 0 and result.output.strip() == f"corpus-scan {__version__}"
