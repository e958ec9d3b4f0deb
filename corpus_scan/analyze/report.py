"""`report`: the prevalence report of one scan run, as index.html + summary.md + CSV files.

index.html is a single self-contained file (plotly inlined, no network). Every table in it is
a SQL query on the scan database, written to `<name>.csv` and, with its SQL, to summary.md.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpus_scan.analyze import audit as audit_mod
from corpus_scan.analyze import markdown, report_folder, report_html, sections
from corpus_scan.analyze.common import first_row, open_db, resolve_run
from corpus_scan.analyze.prevalence import (
    METHOD_NOTES,
    UNADJUSTED_NOTE,
    check_rates,
    check_sample_sizes,
)
from corpus_scan.analyze.queries import Table
from corpus_scan.analyze.sections import ReportData, Section
from corpus_scan.documents import InputError

MD_ROWS_HIDDEN = ("examples_by_topic", "examples_by_category", "audit")


@dataclass
class ReportResult:
    out_dir: Path
    index_html: Path
    summary_md: Path
    files: list[Path]
    run_id: int
    n_docs: int
    n_flagged: int
    n_flagged_after_triage: int | None  # None when the run has no topics
    has_topics: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        triage = (
            f", {self.n_flagged_after_triage:,} after triage"
            if self.n_flagged_after_triage is not None
            else ""
        )
        return (
            f"run {self.run_id}: {self.n_flagged:,} of {self.n_docs:,} documents flagged{triage}; "
            f"report in {self.index_html} ({len(self.files)} files, {self.seconds:.1f} s)"
        )


def _section_table(s: Section) -> Table:
    return Table(s.columns, s.rows)


def _rethreshold(con, run: int, threshold: float | None) -> float:
    """With a threshold, shadow `candidates` and `runs` on this read-only connection by temp
    views that flag at it: every query of the report (and the `hits`/`triaged_hits` views,
    which read `candidates`) then sees those flags. Returns the scan's own threshold."""
    scan_threshold = float(first_row(con, "SELECT threshold FROM runs WHERE run_id = ?",
                                     [run])[0] or 0.0)  # fmt: skip
    if threshold is not None:
        catalog = first_row(con, "SELECT current_database()")[0].replace('"', '""')
        t, r = float(threshold), int(run)
        con.execute(
            f'CREATE TEMP VIEW candidates AS SELECT * REPLACE (CASE WHEN run_id = {r} '
            f'THEN score >= {t!r} ELSE flagged END AS flagged) FROM "{catalog}".main.candidates'
        )
        con.execute(
            f'CREATE TEMP VIEW runs AS SELECT * REPLACE (CASE WHEN run_id = {r} THEN {t!r} '
            f'ELSE threshold END AS threshold) FROM "{catalog}".main.runs'
        )
    return scan_threshold


def _meta(con, db: str | Path, run_id: int) -> dict[str, Any]:
    row = first_row(
        con,
        "SELECT detector, threshold, status, started_at, finished_at FROM runs WHERE run_id = ?",
        [run_id],
    )
    keys = ("detector", "threshold", "status", "started_at", "finished_at")
    meta = dict(zip(keys, row, strict=True)) if row else {}
    meta["db"] = str(db)
    meta["generated_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return meta


def _threshold_note(meta: dict[str, Any]) -> list[str]:
    t, scan = meta.get("threshold"), meta.get("scan_threshold")
    if t is None or scan is None or float(t) == scan:
        return []
    return [f"- flags recomputed from the stored scores at threshold {t} (the scan's: {scan}); "
            f"in the SQL below, read `flagged` as `score >= {t}`; topic tables describe "
            "the passages the topics were fitted on"]  # fmt: skip


def _header(data: ReportData, meta: dict[str, Any], precision, recall,
            sizes: tuple[int | None, int | None] = (None, None)) -> list[str]:
    lines = [
        f"# corpus-scan report: run {data.run_id}",
        "",
        f"- database: `{meta['db']}`",
        f"- generated: {meta['generated_at']}",
        f"- detector: `{meta.get('detector')}`, threshold {meta.get('threshold')}",
        *_threshold_note(meta),
        "- approximate tokens = characters / 4 (no tokenizer is run)",
        f"- intervals: {METHOD_NOTES['wilson']}; {METHOD_NOTES['clopper-pearson']} "
        "when fewer than 5 hits or non-hits",
        "- per million tokens = per-document rate x documents / approximate tokens "
        "(the interval scaled alike)",
    ]
    if precision is not None:
        measured = (f" (measured on {sizes[0]} flagged documents and {sizes[1]} positives)"
                    if sizes[0] else "")
        adjusted = data["adjusted_prevalence"].dicts()[-1]["interval"]
        note = METHOD_NOTES.get(adjusted, adjusted)
        lines.append(f"- adjusted with precision {precision} and recall {recall}{measured}; "
                     f"interval: {note}")
    else:
        lines.append(f"- {UNADJUSTED_NOTE}")
    lines += [
        "- every table below gives the SQL that produced it; run it with "
        f'`corpus-scan sql --db {meta["db"]} "..."`',
        "- views: `hits` = `triaged_hits` (flagged candidates after topic triage; before "
        "triage: `candidates WHERE flagged`), "
        "`doc_topics` (majority topic per document), `topic_decisions` (current triage marks)",
    ]
    lines += [f"- **warning:** {w}" for w in report_html.warning_texts(data)]
    return lines


def _write(out: Path, data: ReportData, audit: Table, bands: Section, meta: dict[str, Any],
           run: int, audit_per_band: int, rates: tuple) -> tuple[list[Path], Path, Path]:
    """Every report file into `out`: (all files, summary.md, index.html)."""
    precision, recall, precision_n, recall_n = rates
    files: list[Path] = []
    for sec in [*data.sections.values(), bands]:
        path = out / f"{sec.name}.csv"
        audit_mod.write_csv(path, _section_table(sec))
        files.append(path)
    audit_path = out / "audit.csv"
    audit_mod.write_csv(audit_path, audit)
    files.append(audit_path)
    audit_section = Section(
        "audit", audit_mod.AUDIT.title, audit.columns, audit.rows,
        audit_mod.audit_sql(run, audit_per_band), list(audit.columns), audit_mod.AUDIT.note,
    )  # fmt: skip
    ordered = [*data.sections.values(), bands, audit_section]
    md = markdown.summary(
        _header(data, meta, precision, recall, (precision_n, recall_n)),
        [(sec, sec.name not in MD_ROWS_HIDDEN) for sec in ordered],
    )
    summary_md = out / "summary.md"
    summary_md.write_text(md, encoding="utf-8")
    index = out / "index.html"
    names = sorted(p.name for p in files) + ["summary.md", "index.html"]
    html = report_html.render(data, meta, len(audit.rows), bands, names)
    index.write_text(html, encoding="utf-8")
    return [*files, summary_md, index], summary_md, index


def report(
    db: str | Path,
    out: str | Path,
    *,
    precision: float | None = None,
    recall: float | None = None,
    precision_n: int | None = None,
    recall_n: int | None = None,
    run_id: int | None = None,
    audit_per_band: int = 20,
    map_points: int = 5000,
    overwrite: bool = False,
    threshold: float | None = None,
) -> ReportResult:
    """Write index.html, summary.md and one CSV per table for a run (default: the latest).

    `precision`/`recall` (from `corpus-scan eval`) add an adjusted estimate; `precision_n` /
    `recall_n` (the evaluation sample sizes) widen its interval by their uncertainty. An
    earlier report in `out` is replaced whole; a labelled audit.csv or a file no report
    wrote there is replaced only with `overwrite` (see `report_folder`). `threshold` flags
    the run's candidates by their stored scores at another threshold than the scan's (no
    rescan); every table, `hits` and topic triage included, then uses it."""
    start = time.perf_counter()
    check_rates(precision, recall)
    check_sample_sizes(precision, precision_n, recall_n)
    if audit_per_band < 1:
        raise InputError(f"--audit-per-band must be at least 1, got {audit_per_band}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InputError(f"--threshold must lie between 0 and 1, not {threshold}")
    con = open_db(db)
    try:
        run = resolve_run(con, run_id, db)
        scan_threshold = _rethreshold(con, run, threshold)
        out, stage = report_folder.prepare(out, overwrite)
    except BaseException:
        con.close()
        raise
    try:
        data = sections.build(
            con, run, precision=precision, recall=recall, precision_n=precision_n,
            recall_n=recall_n, map_points=map_points,
        )  # fmt: skip
        audit = audit_mod.audit_table(con, run, per_band=audit_per_band)
        bands = sections.from_query(con, audit_mod.AUDIT_BANDS, run)
        meta = _meta(con, db, run)
        meta["scan_threshold"] = scan_threshold
        files, summary_md, index = _write(stage, data, audit, bands, meta, run, audit_per_band,
                                          (precision, recall, precision_n, recall_n))  # fmt: skip
        report_folder.install(stage, out, overwrite)
    finally:
        con.close()
        shutil.rmtree(stage, ignore_errors=True)  # a failed report leaves no staging folder
    files = [out / p.name for p in files]
    summary_md, index = out / summary_md.name, out / index.name

    overall = {r["measure"]: r for r in data["prevalence"].dicts()}
    flagged = overall["flagged"]
    triaged = overall.get("flagged after topic triage")
    run_row = data["run_summary"].dicts()[0]
    warns = []
    if threshold is not None and threshold != scan_threshold:
        topics_note = (" the topic tables still describe the passages the topics were fitted "
                       "on (flagged at the scan's threshold);" if data.has_topics else "")
        warns.append(f"flags recomputed from the stored scores at threshold {threshold:g} "
                     f"(the scan's: {scan_threshold:g});{topics_note} in the SQL shown, read "
                     f"`flagged` as `score >= {threshold:g}`")  # fmt: skip
    if run_row["run_status"] != "done":
        warns.append(f"run {run} status is {run_row['run_status']!r}")
    if run_row["n_shards_failed"]:
        warns.append(f"{run_row['n_shards_failed']} shard(s) failed")
    if not data.has_topics:
        warns.append("no topics stored for this run (run `corpus-scan topics`)")
    elif data.fit and data.fit.get("stale"):
        warns.append("topics were fitted before the last shard commits: refit them")
    return ReportResult(
        out, index, summary_md, files, run, int(flagged["n_docs"] or 0),
        int(flagged["n_flagged"] or 0), int(triaged["n_flagged"]) if triaged else None,
        data.has_topics, time.perf_counter() - start, warns,
    )  # fmt: skip
