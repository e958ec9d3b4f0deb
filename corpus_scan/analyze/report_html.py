"""The body of index.html, section by section, from `ReportData`."""

from __future__ import annotations

import re
from typing import Any

from corpus_scan.analyze import charts
from corpus_scan.analyze.page import block, fmt, page, section, table
from corpus_scan.analyze.prevalence import METHOD_NOTES, UNADJUSTED_NOTE
from corpus_scan.analyze.sections import ReportData, Section
from corpus_scan.analyze.text import esc, safe_href

RATE_VIEW = ["n_flagged", "n_docs", "per_million_docs", "per_million_docs_low"]
RATE_VIEW += ["per_million_docs_high", "interval"]
TOKENS_VIEW = ["per_million_tokens", "per_million_tokens_low", "per_million_tokens_high"]


def _p(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{text}</p>'


def headline(data: ReportData) -> str:
    row = data["prevalence"].dicts()[0]
    k, n = row["n_flagged"] or 0, row["n_docs"] or 0
    if not n:
        return _p("This run read no documents, so there is nothing to measure.", "headline")
    rate = (
        f"{fmt(row['per_million_docs'])} per million documents (95% interval "
        f"{fmt(row['per_million_docs_low'])} – {fmt(row['per_million_docs_high'])}); "
        f"{fmt(row['per_million_tokens'])} per million approximate tokens"
    )
    if not k:
        return _p(
            f"<b>No document was flagged</b> in this run: 0 of {fmt(n)} documents. The 95% upper "
            f"bound is {fmt(row['per_million_docs_high'])} flagged documents per million.",
            "headline",
        )
    rows = data["prevalence"].dicts()
    # triage removes whole topics the user judged off-target; the detector's own count (and the
    # precision/recall adjustment, which were measured on it) stays the headline figure
    after = next((r for r in rows if r["measure"] == "flagged after topic triage"), None)
    triaged = (f" ({fmt(after['n_flagged'] or 0)} after topic triage, the count in "
               f"<code>hits</code>)" if after else "")
    return _p(f"<b>{fmt(k)} of {fmt(n)} documents flagged</b>{triaged}: {rate}.", "headline")


def warning_texts(data: ReportData) -> list[str]:
    """What the reader must know before trusting the numbers (plain text, `code` in
    backticks): shown at the top of index.html and of summary.md alike."""
    out = []
    run = data["run_summary"].dicts()[0]
    if not run["n_docs"]:
        out.append("This run read no documents: the rates below are n/a, not 0.")
    if run["run_status"] != "done":
        out.append(
            f"Run status is '{run['run_status']}': a scan that is still running, was "
            "interrupted or had failures. The numbers cover the shards committed so far."
        )
    if run["n_shards_failed"] or run["n_inputs_skipped"]:
        out.append(
            f"{fmt(run['n_shards_failed'])} shard(s) failed and {fmt(run['n_inputs_skipped'])} "
            "input(s) were skipped (listed under Run summary); their documents are not counted."
        )
    if data.fit and data.fit.get("stale"):
        out.append(
            "The topics were fitted before some shards were (re)scanned: run "
            "`corpus-scan topics --refit` for topics of the current data."
        )
    if run["n_shards_limited"]:
        out.append("Some shards were cut short by --limit: this is a sample of the inputs.")
    return out


def warnings(data: ReportData, meta: dict[str, Any]) -> list[str]:
    return [_p(re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(w)), "warn")
            for w in warning_texts(data)]


def _rethresholded(meta: dict[str, Any]) -> str:
    scan = meta.get("scan_threshold")
    if scan is None or meta.get("threshold") is None or float(meta["threshold"]) == scan:
        return ""
    t = esc(fmt(meta["threshold"]))
    return (f" (flags recomputed from the stored scores; the scan's threshold: {esc(fmt(scan))};"
            f" in the SQL shown, read <code>flagged</code> as <code>score &gt;= {t}</code>; "
            "topics, if any, describe the passages they were fitted on)")


def run_part(data: ReportData, meta: dict[str, Any]) -> str:
    s = data["run_summary"]
    parts = [
        _p(
            f"Database {esc(meta['db'])}, run {data.run_id}, detector "
            f"{esc(meta.get('detector'))}, threshold {esc(fmt(meta.get('threshold')))}"
            f"{_rethresholded(meta)}. "
            "Approximate tokens are characters / 4 (no tokenizer is run)."
        ),
        block(s),
        block(data["problems"]),
    ]
    return section("run", "The scan", parts)


def prevalence_part(data: ReportData, meta: dict[str, Any]) -> str:
    parts = [
        _p(
            f"Intervals: {esc(METHOD_NOTES['wilson'])}; {esc(METHOD_NOTES['clopper-pearson'])}. "
            "Per million tokens = per-document rate x documents / approximate tokens."
        ),
        block(data["prevalence"]),
    ]
    if "adjusted_prevalence" in data.sections:
        adj = data["adjusted_prevalence"]
        method = adj.dicts()[1]["interval"]
        parts += [block(adj), _p("Adjusted interval: " + esc(METHOD_NOTES.get(method, method)))]
    else:
        parts.append(_p(esc(UNADJUSTED_NOTE)))
    by_source = data["prevalence_by_source"]
    if by_source.rows:
        fig = charts.rate_bars(by_source.dicts(), "source", "Prevalence by source (95% interval)")
        parts.append(charts.to_div(fig))
    parts.append(
        block(by_source, ["source", "n_shards", *RATE_VIEW[:-1], *TOKENS_VIEW, "interval",
                          "n_flagged_after_triage"])
    )
    parts.append(block(data["prevalence_by_shard"],
                       ["path", "status", *RATE_VIEW, "n_flagged_after_triage"]))
    parts.append(block(data["hits_by_domain"]))
    for name, key in (("prevalence_by_category", "category"), ("prevalence_by_stance", "stance")):
        sec = data[name]
        if sec.rows:
            parts.append(charts.to_div(charts.rate_bars(sec.dicts(), key, sec.title)))
        parts.append(block(sec, [key, *RATE_VIEW]))
    return section("prevalence", "Prevalence", parts)


def threshold_part(data: ReportData, meta: dict[str, Any]) -> str:
    thr = meta.get("threshold")
    parts = [
        charts.to_div(charts.threshold_curve(data["threshold_sensitivity"].dicts(), thr)),
        block(data["threshold_sensitivity"], ["threshold", *RATE_VIEW], limit=30),
        charts.to_div(charts.score_histogram(data["score_histogram"].dicts(), thr)),
        block(data["score_histogram"], limit=20),
    ]
    return section("threshold", "Threshold sensitivity", parts)


def _labels(data: ReportData) -> dict[int, str]:
    return {int(r["topic"]): r["label"] for r in data["topics"].dicts()}


def topics_part(data: ReportData, meta: dict[str, Any]) -> str:
    if not data.has_topics or data.fit is None:
        return section(
            "topics",
            "Topics",
            [_p(f"No topics stored for this run: run <code>corpus-scan topics --db "
                f"{esc(meta['db'])}</code>, then this report again.")],
        )  # fmt: skip
    fit = data.fit
    unit = "passages (stored embeddings)" if fit["unit"] == "passage" else "evidence windows"
    parts = [
        _p(
            f"Fit {fit['fit_id']} of {esc(fit['fitted_at'])}: {fmt(fit['n_units'])} {unit} of "
            f"{fmt(fit['n_docs'])} flagged documents, method {esc(fit['method'])}, "
            f"{fmt(fit['n_topics'])} topic(s); -1 = passages no topic claimed."
        )
    ]
    if fit.get("note"):
        parts.append(_p(esc(fit["note"]), "warn"))
    topics = data["topics"]
    if topics.rows:
        labels = _labels(data)
        parts.append(charts.to_div(charts.topic_bars(topics.dicts())))
        if data.points:
            parts.append(charts.to_div(charts.topic_map(data.points, labels)))
            parts.append(_p(f"Map: a sample of {len(data.points):,} points."))
        if data["topics_by_source"].rows:
            fig = charts.topics_by_source(data["topics_by_source"].dicts(), labels)
            parts.append(charts.to_div(fig))
    parts.append(block(topics))
    parts.append(block(data["topics_by_source"]))
    parts.append(
        _p(
            "Triage: <code>corpus-scan topics --db DB --mark 7=exclude --mark 3=include</code>. "
            "The view <code>triaged_hits</code> drops flagged documents whose majority topic is "
            "excluded (unless a passage is in an included topic); the Prevalence table shows "
            "the rate before and after."
        )
    )
    return section("topics", "Topics", parts)


def _examples(sec: Section, key: str, labels: dict[int, str] | None) -> str:
    out, current = [], object()
    for r in sec.dicts():
        if r[key] != current:
            current = r[key]
            name = f"{current}: {labels.get(current, '')}" if labels is not None else current
            out.append(f"<h4>{esc(key)} {esc(name, 120)}</h4>")
        href = safe_href(r["url"])
        url = esc(r["url"], 100) if r["url"] else "(no url)"
        link = f'<a href="{href}" rel="noopener noreferrer nofollow">{url}</a>' if href else url
        out.append(
            f"<p><b>{esc(r['doc_id'], 100)}</b> · {link} · score {esc(fmt(r['score']))}</p>"
            f'<blockquote class="ex">{esc(r["text"], 600)}</blockquote>'
        )
    return "\n".join(out) if out else _p("(none)")


def evidence_part(data: ReportData, meta: dict[str, Any]) -> str:
    parts = [_p("Highest-scoring examples; text is escaped and cut at 600 characters.")]
    if data.has_topics and "examples_by_topic" in data.sections:
        parts += ["<h3>By topic</h3>", _examples(data["examples_by_topic"], "topic", _labels(data))]
    parts += ["<h3>By category</h3>", _examples(data["examples_by_category"], "category", None)]
    return section("evidence", "Evidence", parts)


def audit_part(audit_rows: int, bands: Section) -> str:
    parts = [
        _p(
            f"<code>audit.csv</code>: {audit_rows:,} candidates sampled across score deciles "
            "(below the threshold too), with a blank <code>human_label</code> column; weight = "
            "band size / sampled. Documents that did not pass the prefilter are not stored and "
            "cannot be sampled here."
        ),
        table(bands, limit=20),
    ]
    return section("audit", "Audit sample", parts)


def methods_part(files: list[str]) -> str:
    items = "".join(f"<li>{esc(f)}</li>" for f in files)
    return section(
        "methods",
        "Files and SQL",
        [
            _p(
                "Every table above is a SQL query on the scan database (open each 'SQL' box, or "
                "read summary.md, which lists them all); interval columns are computed by "
                "corpus_scan.analyze.prevalence from the counts. Views: hits, triaged_hits, "
                "doc_topics, topic_decisions."
            ),
            f"<ul>{items}</ul>",
        ],
    )


def render(
    data: ReportData, meta: dict[str, Any], audit_rows: int, bands: Section, files: list[str]
) -> str:
    nav = [
        ("run", "Run"),
        ("prevalence", "Prevalence"),
        ("threshold", "Threshold"),
        ("topics", "Topics"),
        ("evidence", "Evidence"),
        ("audit", "Audit"),
        ("methods", "SQL"),
    ]
    body = [
        headline(data),
        *warnings(data, meta),
        run_part(data, meta),
        prevalence_part(data, meta),
        threshold_part(data, meta),
        topics_part(data, meta),
        evidence_part(data, meta),
        audit_part(audit_rows, bands),
        methods_part(files),
    ]
    return page(f"corpus-scan report: run {data.run_id}", nav, body)
