"""The report's tables: SQL results, plus interval columns computed by `prevalence`.

A `Section` keeps the SQL that produced its first columns, so summary.md can print it and a
reader can recompute every number; the remaining columns are named in `derived`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import duckdb

from corpus_scan.analyze import queries as q
from corpus_scan.analyze.common import scalar, table_exists
from corpus_scan.analyze.prevalence import Estimate, adjust, estimate, per_million_tokens

RATE_COLUMNS = ["per_million_docs", "per_million_docs_low", "per_million_docs_high"]
TOKEN_COLUMNS = ["per_million_tokens", "per_million_tokens_low", "per_million_tokens_high"]


@dataclass
class Section:
    name: str  # CSV file name (without .csv)
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str | None = None
    sql_columns: list[str] = field(default_factory=list)
    note: str = ""
    derived_note: str = ""

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]


@dataclass
class ReportData:
    run_id: int
    sections: dict[str, Section]
    has_topics: bool
    fit: dict[str, Any] | None  # the run's current topic fit (topic_fits row) or None
    points: list[tuple] = field(default_factory=list)  # topic map sample: x, y, topic, text

    def __getitem__(self, name: str) -> Section:
        return self.sections[name]

    def get(self, name: str) -> Section | None:
        return self.sections.get(name)


def from_query(con: duckdb.DuckDBPyConnection, query: q.Query, run_id: int) -> Section:
    sql = query.sql(run_id)
    table = q.execute(con, sql)
    return Section(
        query.name, query.title, table.columns, table.rows, sql, list(table.columns), query.note
    )


def _rate_values(est: Estimate, with_tokens: bool, tokens: int | None) -> list[float]:
    vals = list(est.per_million)
    if with_tokens:
        vals += list(per_million_tokens(est, int(tokens or 0)))
    return vals + [est.method]


def add_rates(section: Section, k: str, n: str, tokens: str | None = None) -> Section:
    """Append per-million rates and their 95% interval to every row (k of n documents)."""
    ki, ni = section.columns.index(k), section.columns.index(n)
    ti = section.columns.index(tokens) if tokens else None
    rows = []
    for r in section.rows:
        est = estimate(int(r[ki] or 0), int(r[ni] or 0))
        toks = r[ti] if ti is not None else None
        rows.append(tuple(r) + tuple(_rate_values(est, ti is not None, toks)))
    extra = RATE_COLUMNS + (TOKEN_COLUMNS if tokens else []) + ["interval"]
    section.columns = section.columns + extra
    section.rows = rows
    section.derived_note = (
        f"{', '.join(extra)}: computed by corpus_scan.analyze.prevalence from {k} of {n}"
        + (f" and {tokens}" if tokens else "")
        + "."
    )
    return section


def _overall(con, run_id: int, has_topics: bool) -> Section:
    template = (
        "SELECT 'flagged' AS measure,\n"
        "       (SELECT count(*) FROM candidates WHERE run_id = {run} AND flagged) AS n_flagged,\n"
        "       sum(n_docs) AS n_docs, sum(n_chars) // 4 AS approx_tokens\n"
        "FROM shards WHERE run_id = {run}"
    )
    if has_topics:
        template += (
            "\nUNION ALL\n"
            "SELECT 'flagged after topic triage',\n"
            "       (SELECT count(*) FROM triaged_hits WHERE run_id = {run}),\n"
            "       sum(n_docs), sum(n_chars) // 4\n"
            "FROM shards WHERE run_id = {run}"
        )
    query = q.Query("prevalence", "Prevalence (95% intervals)", template)
    return add_rates(from_query(con, query, run_id), "n_flagged", "n_docs", "approx_tokens")


def _adjusted(
    overall: Section,
    precision: float,
    recall: float,
    precision_n: int | None,
    recall_n: int | None,
) -> Section:
    row = overall.dicts()[0]
    raw = estimate(row["n_flagged"] or 0, row["n_docs"] or 0)
    adj = adjust(raw, precision, recall, precision_n=precision_n, recall_n=recall_n)
    tokens = row["approx_tokens"] or 0
    scale = (raw.n / tokens * 1e6) if tokens else math.nan
    cols = ["estimate", "precision", "recall", "per_million_docs", "per_million_docs_low"]
    cols += ["per_million_docs_high", "per_million_tokens", "per_million_tokens_low"]
    cols += ["per_million_tokens_high", "interval"]
    rows = [
        ("raw", None, None, *raw.per_million, *per_million_tokens(raw, tokens), raw.method),
        (
            "adjusted",
            precision,
            recall,
            adj.p * 1e6,
            adj.low * 1e6,
            adj.high * 1e6,
            adj.p * scale,
            adj.low * scale,
            adj.high * scale,
            adj.method,
        ),
    ]
    return Section(
        "adjusted_prevalence",
        "Adjusted prevalence (classify-and-count corrected for precision and recall)",
        cols,
        rows,
        note="p_true = p_obs x precision / recall, from the 'flagged' row of prevalence.",
        derived_note="all columns computed by corpus_scan.analyze.prevalence.adjust",
    )


def _fit_row(con, run_id: int) -> dict[str, Any] | None:
    """The run's current fit, with `stale`: shards were (re)committed after it was fitted."""
    cur = con.execute(
        "SELECT *, fitted_at < (SELECT max(finished_at) FROM shards WHERE run_id = $run) AS stale "
        "FROM topic_fits WHERE run_id = $run ORDER BY fit_id DESC LIMIT 1",
        {"run": run_id},
    )
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else None


def _points(con, run_id: int, limit: int) -> list[tuple]:
    return con.execute(
        "SELECT pt.x, pt.y, pt.topic, c.doc_id, coalesce(p.text, c.evidence) AS text "
        "FROM passage_topics pt "
        "JOIN candidates c ON c.run_id = pt.run_id AND c.shard_id = pt.shard_id "
        "  AND c.row = pt.row "
        "LEFT JOIN passages p ON p.run_id = pt.run_id AND p.shard_id = pt.shard_id "
        "  AND p.row = pt.row AND p.passage = pt.passage "
        "WHERE pt.run_id = ? AND pt.x IS NOT NULL AND isfinite(pt.x) "
        "ORDER BY hash(pt.shard_id, pt.row, pt.passage) LIMIT ?",
        [run_id, limit],
    ).fetchall()


def build(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    *,
    precision: float | None = None,
    recall: float | None = None,
    precision_n: int | None = None,
    recall_n: int | None = None,
    map_points: int = 5000,
) -> ReportData:
    """Run every report query for `run_id` and add the derived interval columns."""
    has_topics = table_exists(con, "triaged_hits") and bool(
        scalar(con, "SELECT count(*) FROM topic_fits WHERE run_id = ?", [run_id])
    )
    s: dict[str, Section] = {}
    s["prevalence"] = _overall(con, run_id, has_topics)
    if precision is not None and recall is not None:
        s["adjusted_prevalence"] = _adjusted(
            s["prevalence"], precision, recall, precision_n, recall_n
        )
    for query in q.BASE_QUERIES:
        s[query.name] = from_query(con, query, run_id)
    add_rates(s["prevalence_by_source"], "n_flagged", "n_docs", "approx_tokens")
    add_rates(s["prevalence_by_shard"], "n_flagged", "n_docs", "approx_tokens")
    add_rates(s["prevalence_by_category"], "n_flagged", "n_docs")
    add_rates(s["prevalence_by_stance"], "n_flagged", "n_docs")
    add_rates(s["threshold_sensitivity"], "n_flagged", "n_docs")
    fit, points = None, []
    if has_topics:
        for query in q.TOPIC_QUERIES:
            s[query.name] = from_query(con, query, run_id)
        fit = _fit_row(con, run_id)
        points = _points(con, run_id, map_points)
    return ReportData(run_id, s, has_topics, fit, points)
