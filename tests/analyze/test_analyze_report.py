"""The report: files, escaping of hostile text, and summary.md numbers equal to their SQL."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import duckdb
import pytest
from analyze_synth import HOSTILE_URL, build_db

from corpus_scan.analyze import report, topics
from corpus_scan.analyze.markdown import md_value
from corpus_scan.analyze.prevalence import adjust, estimate, per_million_tokens
from corpus_scan.documents import InputError

RATE_COLS = {
    "per_million_docs": 0,
    "per_million_docs_low": 1,
    "per_million_docs_high": 2,
}
TOKEN_COLS = {"per_million_tokens": 0, "per_million_tokens_low": 1, "per_million_tokens_high": 2}


def parse_summary(text: str) -> dict[str, dict]:
    """{csv name: {'columns', 'rows', 'sql'}} from summary.md's '## Title (`name.csv`)' blocks."""
    out = {}
    for block in text.split("\n## ")[1:]:
        name = re.search(r"\(`([a-z_]+)\.csv`\)", block.splitlines()[0]).group(1)
        lines = [ln for ln in block.splitlines() if ln.startswith("| ")]
        cells = [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines]
        sql = re.search(r"```sql\n(.*?)\n```", block, re.S)
        out[name] = {
            "columns": cells[0] if cells else [],
            "rows": cells[1:],
            "sql": sql.group(1) if sql else None,
        }
    return out


def same(shown: str, value: object) -> bool:
    if isinstance(value, float) and not math.isnan(value):
        return float(shown) == pytest.approx(value, rel=1e-5, abs=1e-9)
    return shown == md_value(value)


def check_derived(columns: list[str], shown: list[str], row: dict) -> None:
    k = "n_flagged"
    est = estimate(int(row[k]), int(row["n_docs"]))
    for col, i in RATE_COLS.items():
        if col in columns:
            assert same(shown[columns.index(col)], est.per_million[i]), col
    if "per_million_tokens" in columns:
        rates = per_million_tokens(est, int(row["approx_tokens"]))
        for col, i in TOKEN_COLS.items():
            assert same(shown[columns.index(col)], rates[i]), col
    if "interval" in columns:
        assert shown[columns.index("interval")] == est.method


@pytest.fixture
def triaged_db(topics_db: Path) -> Path:
    topics(topics_db, mark=["0=exclude"])
    return topics_db


def test_report_files_and_summary_numbers_equal_sql(triaged_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    result = report(triaged_db, out, precision=0.8, recall=0.6)
    for name in ("index.html", "summary.md", "audit.csv", "prevalence.csv", "topics.csv"):
        assert (out / name).is_file(), name
    assert result.n_flagged_after_triage is not None
    assert result.n_flagged_after_triage < result.n_flagged
    md = parse_summary((out / "summary.md").read_text(encoding="utf-8"))
    con = duckdb.connect(str(triaged_db), read_only=True)
    checked = 0
    try:
        for name, table in md.items():
            if table["sql"] is None or not table["columns"]:
                continue  # derived-only table, or a text table shown only in the CSV
            cur = con.execute(table["sql"])
            sql_cols = [d[0] for d in cur.description]
            sql_rows = cur.fetchall()
            columns = table["columns"]
            assert columns[: len(sql_cols)] == sql_cols, name
            for shown, row in zip(table["rows"], sql_rows, strict=False):
                for i, col in enumerate(sql_cols):
                    assert same(shown[i], row[i]), (name, col, shown[i], row[i])
                    checked += 1
                if len(columns) > len(sql_cols) and "n_flagged" in sql_cols:
                    check_derived(columns, shown, dict(zip(sql_cols, row, strict=True)))
            if table["rows"]:
                assert len(table["rows"]) == min(len(sql_rows), 30), name
        # adjusted prevalence: derived from the raw row
        raw = dict(zip(md["prevalence"]["columns"], md["prevalence"]["rows"][0], strict=True))
        adj = adjust(estimate(int(raw["n_flagged"]), int(raw["n_docs"])), 0.8, 0.6)
        adjusted = md["adjusted_prevalence"]
        shown = dict(zip(adjusted["columns"], adjusted["rows"][1], strict=True))
        assert same(shown["per_million_docs"], adj.p * 1e6)
        assert same(shown["per_million_docs_high"], adj.high * 1e6)
    finally:
        con.close()
    assert checked > 200
    prevalence = {r[0]: r for r in md["prevalence"]["rows"]}
    assert int(prevalence["flagged after topic triage"][1]) == result.n_flagged_after_triage
    # the page's headline gives both counts, so it never disagrees with `hits` unexplained
    page = (out / "index.html").read_text(encoding="utf-8")
    assert (f"{result.n_flagged:,} of" in page
            and f"({result.n_flagged_after_triage:,} after topic triage" in page)


def test_every_number_in_csv_matches_summary(topics_db: Path, tmp_path: Path) -> None:
    report(topics_db, tmp_path / "rep")
    md = parse_summary((tmp_path / "rep" / "summary.md").read_text(encoding="utf-8"))
    for name in ("prevalence", "prevalence_by_source", "threshold_sensitivity", "topics"):
        with (tmp_path / "rep" / f"{name}.csv").open(encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == md[name]["columns"]
        for csv_row, md_row in zip(rows[1:], md[name]["rows"], strict=False):
            for a, b in zip(csv_row, md_row, strict=True):
                try:
                    assert float(a) == pytest.approx(float(b), rel=1e-5)
                except ValueError:
                    assert a.replace("|", "\\|") == b or not a


def test_hostile_text_is_escaped(topics_db: Path, tmp_path: Path) -> None:
    report(topics_db, tmp_path / "rep")
    html = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text
    assert "&lt;b&gt;doc-evil&lt;/b&gt;" in html
    assert 'href="javascript' not in html.lower()
    assert "javascript:alert(1)" in html  # the URL is shown, as text
    assert "\u202e" not in html and "&lt;U+202E&gt;" in html
    # plotly inlined exactly once, in the head; no CDN
    assert html.count('<script type="text/javascript">/**') == 1
    assert not re.search(r"<script[^>]*\bsrc=", html)  # nothing loaded from the network
    assert "Plotly.newPlot" in html
    md = (tmp_path / "rep" / "summary.md").read_text(encoding="utf-8")
    assert "<script>" not in md
    with (tmp_path / "rep" / "examples_by_category.csv").open(encoding="utf-8") as fh:
        assert any(HOSTILE_URL in r for r in fh)


def test_zero_hits_report_says_so(tmp_path: Path) -> None:
    db = build_db(tmp_path / "none.duckdb", n_cand=0, hostile=False, failed_shard=False)
    result = report(db, tmp_path / "rep")
    html = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    assert result.n_flagged == 0 and "No document was flagged" in html
    assert "No topics stored" in html
    topics(db)
    report(db, tmp_path / "rep2")
    assert "(no rows)" in (tmp_path / "rep2" / "index.html").read_text(encoding="utf-8")


def test_report_without_topics_or_passages(tmp_path: Path) -> None:
    db = build_db(tmp_path / "lex.duckdb", passages=False)
    result = report(db, tmp_path / "rep")
    assert not result.has_topics and result.n_flagged_after_triage is None
    assert any("topics" in w for w in result.warnings)
    topics(db, reducer="pca")
    html = (tmp_path / "rep2").mkdir() or report(db, tmp_path / "rep2").index_html.read_text()
    assert "evidence windows" in html


def test_audit_csv_spans_score_bands(synth_db: Path, tmp_path: Path) -> None:
    report(synth_db, tmp_path / "rep", audit_per_band=5)
    with (tmp_path / "rep" / "audit.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {"doc_id", "shard", "row", "url", "score", "band", "evidence", "human_label"} <= set(
        rows[0]
    )
    assert len(rows) == 50 and {r["band"] for r in rows} == {str(b) for b in range(1, 11)}
    assert all(r["human_label"] == "" for r in rows)
    assert any(r["flagged"] == "False" for r in rows) and any(r["flagged"] == "True" for r in rows)
    assert sum(float(r["weight"]) for r in rows) == pytest.approx(180)  # all candidates
    assert not any(r["evidence"].startswith(("=", "+", "@")) for r in rows)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"precision": 0.9}, "both --precision and --recall"),
        ({"precision": 0.9, "recall": 1.2}, "--recall"),
        ({"run_id": 7}, "no run 7"),
        ({"audit_per_band": 0}, "audit-per-band"),
        ({"precision": 0.9, "recall": 0.8, "precision_n": 100}, "both --precision-n and"),
        ({"precision_n": 100, "recall_n": 50}, "need --precision and --recall"),
        ({"precision": 0.9, "recall": 0.8, "precision_n": 0, "recall_n": 50}, "--precision-n"),
    ],
)
def test_report_user_errors(synth_db: Path, tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        report(synth_db, tmp_path / "rep", **kwargs)


def test_report_database_errors(tmp_path: Path, synth_db: Path) -> None:
    with pytest.raises(InputError, match="no such database"):
        report(tmp_path / "missing.duckdb", tmp_path / "rep")
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    with pytest.raises(InputError, match="not a corpus-scan database"):
        report(other, tmp_path / "rep")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        report(synth_db, tmp_path / "file")


def test_stale_topics_are_flagged(topics_db: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(topics_db))
    con.execute("UPDATE shards SET finished_at = now()::TIMESTAMP + INTERVAL 1 DAY")
    con.close()
    result = report(topics_db, tmp_path / "rep")
    assert any("refit" in w for w in result.warnings)
    assert "--refit" in result.index_html.read_text(encoding="utf-8")


def test_database_without_runs_or_documents(tmp_path: Path) -> None:
    from corpus_scan.store.db import Store

    Store(tmp_path / "empty.duckdb").close()
    with pytest.raises(InputError, match="no scan run"):
        report(tmp_path / "empty.duckdb", tmp_path / "rep")
    store = Store(tmp_path / "started.duckdb")
    store.start_run({}, "h", version="v", detector="d", lexicon_hash="x", threshold=0.5, n_inputs=0)
    store.close()
    result = report(tmp_path / "started.duckdb", tmp_path / "rep")
    assert result.n_docs == 0 and any("running" in w for w in result.warnings)
    assert "read no documents" in result.index_html.read_text(encoding="utf-8")
    assert topics(tmp_path / "started.duckdb").n_topics == 0


def test_report_cli_passes_the_evaluation_sample_sizes(synth_db: Path, tmp_path: Path) -> None:
    """--precision-n/--recall-n reach the adjusted interval (delta method) from the CLI; without
    them the interval is the raw one scaled, and the page says which."""
    from typer.testing import CliRunner

    from corpus_scan.analyze.prevalence import METHOD_NOTES
    from corpus_scan.cli import app

    base = ["report", "--db", str(synth_db), "--precision", "0.85", "--recall", "0.79"]
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a"), "--precision-n", "252",
                                   "--recall-n", "271"])
    assert res.exit_code == 0, res.output
    with_n = (tmp_path / "a" / "summary.md").read_text(encoding="utf-8")
    assert METHOD_NOTES["delta-log"] in with_n
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    without = (tmp_path / "b" / "summary.md").read_text(encoding="utf-8")
    assert METHOD_NOTES["scaled-raw-interval"] in without
    assert METHOD_NOTES["delta-log"] not in without
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "c"), "--recall-n", "271"])
    assert res.exit_code != 0 and "give both --precision-n and --recall-n" in res.output


def test_an_unadjusted_report_says_how_to_correct_it(synth_db: Path, tmp_path: Path) -> None:
    """Without --precision/--recall the counts are raw: both files say so and how to fix it;
    with them, neither carries the note."""
    plain = report(synth_db, tmp_path / "plain")
    md = (tmp_path / "plain" / "summary.md").read_text(encoding="utf-8")
    html = plain.index_html.read_text(encoding="utf-8")
    for text in (md, html):
        assert "No adjusted estimate" in text and "overstate precision at natural balance" in text
    report(synth_db, tmp_path / "adj", precision=0.8, recall=0.7)
    for name in ("summary.md", "index.html"):
        assert "No adjusted estimate" not in (tmp_path / "adj" / name).read_text(encoding="utf-8")


def test_marks_on_stale_topics_warn(topics_db: Path) -> None:
    fresh = topics(topics_db, mark=["0=exclude"])
    assert fresh.warnings == []
    con = duckdb.connect(str(topics_db))
    con.execute("UPDATE shards SET finished_at = now()::TIMESTAMP + INTERVAL 1 DAY")
    con.close()
    late = topics(topics_db, mark=["0=include"])
    assert len(late.warnings) == 1 and "--refit" in late.warnings[0]


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.95])  # the scan flagged at 0.5
def test_report_at_another_threshold_needs_no_rescan(
    topics_db: Path, tmp_path: Path, threshold: float
) -> None:
    con = duckdb.connect(str(topics_db), read_only=True)
    run, scan_t = con.execute("SELECT max(run_id), any_value(threshold) FROM runs").fetchone()
    want = con.execute("SELECT count(*) FROM candidates WHERE run_id = ? AND score >= ?",
                       [run, threshold]).fetchone()[0]  # fmt: skip
    con.close()
    result = report(topics_db, tmp_path / "rep", threshold=threshold)
    assert result.n_flagged == want
    assert result.n_flagged_after_triage is not None and result.n_flagged_after_triage <= want
    assert any("recomputed" in w for w in result.warnings)
    assert "flags recomputed from the stored scores" in result.index_html.read_text("utf-8")
    assert f"read `flagged` as `score >= {threshold}`" in result.summary_md.read_text("utf-8")
    by_category = list(csv.DictReader((tmp_path / "rep" / "prevalence_by_category.csv").open()))
    assert sum(int(r["n_flagged"]) for r in by_category) == want
    same = report(topics_db, tmp_path / "rep2")  # the database is untouched
    con = duckdb.connect(str(topics_db), read_only=True)
    assert same.n_flagged == con.execute(
        "SELECT count(*) FROM candidates WHERE run_id = ? AND flagged", [run]).fetchone()[0]
    assert con.execute("SELECT threshold FROM runs WHERE run_id = ?", [run]).fetchone()[0] == scan_t
    con.close()
    with pytest.raises(InputError, match="between 0 and 1"):
        report(topics_db, tmp_path / "rep3", threshold=1.5)
