"""What the reader must know before trusting the numbers is said in summary.md as well as in
index.html (a run cut by --limit, a run that read nothing)."""

from __future__ import annotations

from pathlib import Path

from corpus_scan import DetectorConfig, evaluate, report, scan

LEXICAL = DetectorConfig(scorer="lexical")


def test_a_limited_run_is_called_a_sample_in_both_reports(
    small_corpus: Path, tmp_path: Path
) -> None:
    db = tmp_path / "x.duckdb"
    scan([str(small_corpus)], db, detector=LEXICAL, limit=5)
    report(db, tmp_path / "rep")
    warning = "Some shards were cut short by --limit: this is a sample of the inputs."
    assert f"- **warning:** {warning}" in (tmp_path / "rep" / "summary.md").read_text()
    assert warning in (tmp_path / "rep" / "index.html").read_text()


def test_a_run_that_read_nothing_has_no_rates(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "blank.jsonl").write_text("\n\n")
    db = tmp_path / "x.duckdb"
    scan([str(corpus)], db, detector=LEXICAL)
    report(db, tmp_path / "rep")
    summary = (tmp_path / "rep" / "summary.md").read_text()
    assert "This run read no documents: the rates below are n/a, not 0." in summary
    assert "| flagged | 0 | 0 | 0 | n/a |" in summary and "nan" not in summary


def test_evaluate_takes_a_detector_name_as_the_cli_does() -> None:
    import pytest
    from corpus_fixtures import LABELED

    if not (LABELED / "dev.jsonl").exists():
        pytest.skip(f"needs the labeled dev set at {LABELED} (absent on this machine)")
    got = evaluate(LABELED / "dev.jsonl", scorer="lexical")
    assert got.scorer.name == "lexical" and got.scorer.n == 221


def test_topics_refuses_a_refit_that_cannot_be_made_and_keeps_the_stored_one(
    small_corpus: Path, tmp_path: Path
) -> None:
    """A lexical scan stores no passage vectors: `--unit passage --refit` used to replace a good
    evidence fit with an empty one; `--refit --mark` used to ignore --refit."""
    import duckdb
    import pytest

    from corpus_scan import topics
    from corpus_scan.documents import InputError

    db = tmp_path / "x.duckdb"
    scan([str(small_corpus)], db, detector=LEXICAL)
    first = topics(db, unit="evidence", min_topic_size=2)
    assert first.topics

    def stored() -> list[tuple]:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute("SELECT * FROM topics ORDER BY ALL").fetchall()

    before = stored()
    with pytest.raises(InputError, match="pass --unit evidence"):
        topics(db, unit="passage", refit=True)
    with pytest.raises(InputError, match="run `topics --refit` first, then --mark"):
        topics(db, mark=["0=exclude"], refit=True)
    assert stored() == before
