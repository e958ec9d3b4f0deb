"""The end-of-scan summary: what was read, what was found, what went wrong and where."""

from __future__ import annotations

import shlex
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from corpus_scan.run.scan import ScanReport


def summary_dict(report: ScanReport) -> dict[str, Any]:
    t = report.totals
    return {
        "db": report.db,
        "run_id": report.run_id,
        "status": report.status,
        "resumed": report.resumed,
        "shards": report.shards_total,
        "shards_scanned_now": report.shards_run,
        **{k: t.get(k) for k in t if k != "run_id"},
        "seconds": round(report.seconds, 3),
        "mb_per_s": round(report.bytes_read / 1e6 / report.seconds, 2) if report.seconds else None,
        "failed": [{"path": p, "error": e} for p, e in report.failed],
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        "bad_records_first": [{"path": p, "line": line, "row": row, "reason": reason}
                              for p, line, row, reason in report.bad_sample],
    }


def print_summary(report: ScanReport, console: Console) -> None:
    t = report.totals
    if report.status == "already-done":
        console.print(
            f"run {report.run_id} already scanned these inputs into {report.db}; "
            "nothing to do (use --new-run to scan again)"
        )
    table = Table(title=f"corpus-scan run {report.run_id} ({report.status})", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    secs = report.seconds
    rows = [
        ("database", report.db),
        (
            "shards",
            f"{t.get('n_shards') or 0:,} of {report.shards_total:,}"
            + (f" ({report.shards_run:,} scanned now, resumed)" if report.resumed else ""),
        ),
        ("documents", f"{t.get('n_docs') or 0:,}"),
        ("characters", f"{t.get('n_chars') or 0:,}"),
        ("MB read (uncompressed)", f"{(t.get('n_bytes') or 0) / 1e6:,.1f}"),
        ("bad records", f"{t.get('n_bad') or 0:,}"),
        ("non-document records", f"{t.get('n_skipped') or 0:,}"),
        ("candidates (prefilter)", f"{t.get('n_candidates') or 0:,}"),
        ("flagged (hits)", f"{t.get('n_flagged') or 0:,}"),
        ("failed shards", f"{len(report.failed):,}"),
        ("skipped inputs", f"{len(report.skipped):,}"),
    ]
    if secs > 0:
        rows.append(("time", f"{secs:,.1f} s"))
        rows.append(
            (
                "throughput",
                f"{report.docs_read / secs:,.0f} docs/s, "
                f"{report.bytes_read / 1e6 / secs:,.1f} MB/s",
            )
        )
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    for path, error in report.failed:
        console.print(f"[red]failed:[/red] {escape(error or path)}", soft_wrap=True)
    for s in report.skipped[:20]:
        console.print(
            f"[yellow]skipped:[/yellow] {escape(s.path)}: {escape(s.reason)}", soft_wrap=True
        )
    if len(report.skipped) > 20:
        console.print(f"... and {len(report.skipped) - 20} more skipped (table skipped_inputs)")
    for path, line, row, reason in report.bad_sample:
        where = f"line {line}" if line is not None else f"row {row}"
        console.print(f"[yellow]bad record:[/yellow] {escape(path)}: {where}: {escape(reason)}",
                      soft_wrap=True)
    if (t.get("n_bad") or 0) > len(report.bad_sample):
        console.print(f"... {(t.get('n_bad') or 0) - len(report.bad_sample):,} more bad records")
    if (t.get("n_bad") or 0) > 0:
        console.print(
            "bad records (first 1,000 per shard, with lines): corpus-scan sql --db "
            f'{escape(shlex.quote(report.db))} "SELECT reason, count(*) FROM bad_records '
            'GROUP BY 1"; records without a text field: pass '
            "--text-field NAME (several, comma-separated; '*' = all string values of a JSON "
            "record)",
            soft_wrap=True,
        )
