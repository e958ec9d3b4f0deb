"""A rerun of `report` into the same folder: labels and the user's files are safe, and no
table of an earlier report is left beside the new one."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from corpus_scan.analyze import report
from corpus_scan.analyze.report_folder import MARKER, human_labels
from corpus_scan.documents import InputError


def _label(audit: Path) -> None:
    with audit.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["human_label"] = "yes"
    with audit.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_labelled_audit_is_kept_unless_overwrite(synth_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    report(synth_db, out)
    _label(out / "audit.csv")
    with pytest.raises(InputError, match=r"audit\.csv: holds 1 human label.*--overwrite"):
        report(synth_db, out)
    assert human_labels(out / "audit.csv") == 1
    assert not [p for p in out.iterdir() if p.name.startswith(".report-tmp-")]
    report(synth_db, out, overwrite=True)
    assert human_labels(out / "audit.csv") == 0


def test_a_rerun_removes_the_earlier_reports_tables(topics_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    first = report(topics_db, out)
    assert (out / "topics.csv").exists() and (out / MARKER).exists()
    (out / "notes.txt").write_text("mine")  # the user's own file, not the report's
    (out / "topics.csv").rename(out / "topics.csv.bak")  # renamed: now the user's too
    (out / "topics.csv").write_text("old")
    import duckdb

    con = duckdb.connect(str(topics_db))
    con.execute("DELETE FROM topic_fits")
    con.close()
    second = report(topics_db, out)
    assert not (out / "topics.csv").exists()  # the earlier report's table, no longer written
    assert (out / "notes.txt").read_text() == "mine" and (out / "topics.csv.bak").exists()
    assert {p.name for p in second.files} < {p.name for p in first.files}


def test_files_no_report_wrote_are_not_replaced(synth_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    (out / "index.html").write_text("<p>my own page</p>")
    with pytest.raises(InputError, match=r"holds index\.html, which no earlier report wrote"):
        report(synth_db, out)
    assert (out / "index.html").read_text() == "<p>my own page</p>"
    report(synth_db, out, overwrite=True)
    assert "plotly" in (out / "index.html").read_text(encoding="utf-8").lower()


def test_a_report_written_before_the_marker_is_replaced(synth_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    report(synth_db, out)
    (out / MARKER).unlink()
    report(synth_db, out=out)  # recognised by its summary.md heading (`out=`, as --out)
    assert (out / MARKER).exists()


def test_cli_report_overwrite(synth_db: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from corpus_scan.cli import app

    out = tmp_path / "rep"
    cmd = ["report", "--db", str(synth_db), "--out", str(out)]
    assert CliRunner().invoke(app, cmd).exit_code == 0
    _label(out / "audit.csv")
    refused = CliRunner().invoke(app, cmd)
    assert refused.exit_code == 2 and "--overwrite" in refused.output, refused.output
    assert CliRunner().invoke(app, [*cmd, "--overwrite"]).exit_code == 0


def test_an_audit_resaved_by_a_spreadsheet_counts_as_labelled(synth_db: Path, tmp_path: Path):
    """Excel may save it as cp1252 or with ';': unreadable as ours, it used to be replaced."""
    out = tmp_path / "rep"
    report(synth_db, out)
    text = (out / "audit.csv").read_text(encoding="utf-8")
    (out / "audit.csv").write_text(text.replace(",", ";"), encoding="utf-8-sig")
    with pytest.raises(InputError, match="was changed since the report wrote it"):
        report(synth_db, out)


def test_a_report_stopped_among_its_moves_is_replaced_by_the_next(
    synth_db: Path, topics_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from corpus_scan.analyze import report_folder

    out = tmp_path / "rep"
    report(synth_db, out)
    real, calls = os.replace, {"n": 0}

    def dying_replace(a, b):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        real(a, b)

    monkeypatch.setattr(report_folder.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        report(topics_db, out)  # its topic tables are new names in this folder
    monkeypatch.setattr(report_folder.os, "replace", real)
    assert not [p for p in out.iterdir() if p.name.startswith(".report-tmp-")]
    assert report(topics_db, out).has_topics  # not refused: every name was claimed first
