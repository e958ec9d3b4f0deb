"""The `corpus-scan` command line: each command is a thin layer over the library function
of the same name, so anything done here can be done from Python too."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from corpus_scan import cli_detector
from corpus_scan.cli_common import DbOption, HeadOption, console, err, run_interruptible
from corpus_scan.cli_common import fail as _fail
from corpus_scan.cli_common import fields as _fields
from corpus_scan.cli_output import cell, csv_line, json_default, json_safe, unique_names
from corpus_scan.documents import DEFAULT_TEXT_FIELDS, DEFAULT_URL_FIELDS, InputError, ReadOptions

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Measure and filter the 'AI resists shutdown' narrative in training corpora.",
)


def _version(value: bool) -> None:
    if value:
        from corpus_scan import __version__

        print(f"corpus-scan {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """Measure and filter the 'AI resists shutdown' narrative in training corpora."""


@app.command()
def scan(
    inputs: Annotated[
        list[str], typer.Argument(help="files, folders, globs, hf://datasets/... or hf:ORG/NAME")
    ],
    db: DbOption = Path("corpus_scan.duckdb"),
    text_field: Annotated[
        str,
        typer.Option(help="text field(s), first present wins; '*' = every string value (JSON)"),
    ] = ",".join(DEFAULT_TEXT_FIELDS),
    id_field: Annotated[
        str, typer.Option(help="id field(s), first present wins; else <shard path>:<row>")
    ] = "id",
    url_field: Annotated[str, typer.Option(help="url field(s), dotted paths allowed")] = ",".join(
        DEFAULT_URL_FIELDS
    ),
    limit: Annotated[int | None, typer.Option(help="stop after this many documents")] = None,
    lexicon_dir: Annotated[Path | None, typer.Option(help="folder of lexicon YAML files")] = None,
    window: Annotated[
        int, typer.Option(help="max chars between an AI term and a resistance term")
    ] = 400,
    detector: Annotated[str, typer.Option(help="cascade | minilm | static | lexical")] = "cascade",
    head: HeadOption = None,
    threshold: Annotated[
        float | None, typer.Option(help="flag threshold (default: the detector's)")
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto | cpu | cuda, for the embedding stage")
    ] = "auto",
    workers: Annotated[int, typer.Option(help="worker processes (0 = all cores)")] = 0,
    batch_size: Annotated[int, typer.Option(help="documents per batch")] = 2048,
    config: Annotated[str | None, typer.Option(help="dataset config for hf:ORG/NAME")] = None,
    split: Annotated[str, typer.Option(help="dataset split for hf:ORG/NAME")] = "train",
    new_run: Annotated[
        bool, typer.Option(help="start a new run even if this scan already ran")
    ] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    executor: Annotated[str, typer.Option(help="local | ray")] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: start Ray locally)")
    ] = None,
    write_filtered: Annotated[
        Path | None,
        typer.Option(help="after the scan, write drop-mode Parquet shards here (see `filter`)"),
    ] = None,
) -> None:
    """Scan a corpus into a DuckDB database (resumes an interrupted scan of the same inputs)."""
    from corpus_scan.detect.cascade import DetectorConfig
    from corpus_scan.run.scan import scan as run_scan

    try:
        options = ReadOptions(
            text_fields=_fields(text_field),
            id_field=id_field,
            url_fields=_fields(url_field),
            batch_size=batch_size,
            hf_config=config,
            hf_split=split,
        )
        det = DetectorConfig(
            lexicon_dir=str(lexicon_dir.resolve()) if lexicon_dir else None,
            window=window,
            scorer=detector,
            device=device,
            threshold=threshold,
            head_dir=str(head.resolve()) if head else None,
        )
    except InputError as exc:
        _fail(str(exc))
    if write_filtered is not None and limit is not None:
        _fail("--write-filtered needs a complete scan: drop --limit (or run `filter` later "
              "on a scan without it)")
    report = run_interruptible(
        f"{db}: scan interrupted, its run marked interrupted",
        run_scan,
        inputs,
        db,
        read_options=options,
        detector=det,
        workers=workers or os.cpu_count() or 1,
        limit=limit,
        new_run=new_run,
        progress=progress and sys.stderr.isatty(),
        executor=executor,
        ray_address=ray_address,
    )
    from corpus_scan.run.summary import print_summary, summary_dict

    summary = summary_dict(report)
    if not as_json:
        print_summary(report, console)
    if write_filtered is not None and not report.failed:
        written = _run_filter(db, write_filtered)
        if as_json:  # one JSON document on stdout: the filter's summary goes inside it
            summary["filter"] = _filter_dict(written)
        else:
            _print_filter(written)
    if as_json:
        print(json.dumps(summary, default=str, indent=2))
    if report.failed:
        raise typer.Exit(1)


@app.command()
def sql(
    query: Annotated[
        str,
        typer.Argument(help="SQL to run (tables: runs, shards, candidates, hits, passages, ...)"),
    ],
    db: DbOption = Path("corpus_scan.duckdb"),
    format: Annotated[str, typer.Option("--format", "-f", help="table | csv | json")] = "table",
    write: Annotated[bool, typer.Option(help="open the database for writing")] = False,
    max_width: Annotated[int, typer.Option(help="truncate table cells to this many chars")] = 80,
) -> None:
    """Run a SQL query on a scan database (read-only unless --write)."""
    from corpus_scan.store.query import sql as run_sql

    if format not in ("table", "csv", "json"):
        _fail(f"--format must be table, csv or json, not {format!r}")
    if max_width < 1:
        _fail(f"--max-width must be at least 1, not {max_width}")
    try:
        result = run_sql(query, db, write=write)
    except InputError as exc:
        _fail(str(exc))
    if format == "csv":
        for row in [result.columns, *result.rows]:
            sys.stdout.write(csv_line(row))
    elif format == "json":
        names = unique_names(result.columns)  # a JSON object cannot hold one key twice
        rows = [{c: json_safe(v) for c, v in zip(names, r, strict=True)} for r in result.rows]
        print(json.dumps(rows, default=json_default, ensure_ascii=False, indent=1,
                         allow_nan=False))
    else:
        table = Table(show_lines=False)
        for name in result.columns:
            table.add_column(name, no_wrap=True, overflow="ellipsis")
        cells = [[cell(v, max_width) for v in r] for r in result.rows]
        for row in cells:
            table.add_row(*row)
        # wide enough for every (truncated) cell: piped output is for reading, not a terminal
        widths = [
            max([len(n), *(len(row[i]) for row in cells)]) for i, n in enumerate(result.columns)
        ]
        target = (
            console if sys.stdout.isatty() else Console(width=sum(widths) + 3 * len(widths) + 1)
        )
        target.print(table)
        err.print(f"{len(result.rows)} row(s)")


@app.command("filter")
def filter_(
    db: DbOption = Path("corpus_scan.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("filtered"),
    mode: Annotated[str, typer.Option(help="drop | keep | annotate")] = "drop",
    threshold: Annotated[
        float | None, typer.Option(help="flag threshold (default: the run's)")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="parquet | jsonl.gz")] = "parquet",
    upsample_accepting: Annotated[
        int, typer.Option(help="write unflagged documents whose stance is `accepts` K times "
                     "(experimental: unreliable on unseen text, see README)")
    ] = 0,
    overwrite: Annotated[
        bool, typer.Option(help="replace an earlier filter's output in --out")
    ] = False,
    run: Annotated[
        int | None, typer.Option("--run", help="run id (default: the run that finished last)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Write filtered (drop), isolated (keep) or annotated shards from the stored scores,
    one output shard per input shard (none for a shard left empty), plus manifest.json. No
    rescan, no re-scoring."""
    report = _run_filter(db, out, mode=mode, threshold=threshold, fmt=format,
                         upsample_accepting=upsample_accepting, overwrite=overwrite, run_id=run)
    if as_json:
        print(json.dumps(_filter_dict(report), default=str, indent=2))
    else:
        _print_filter(report)


def _run_filter(db: Path, out: Path, **options: Any) -> Any:
    from corpus_scan.shards import filter_shards

    return run_interruptible(
        f"{out}: filter interrupted, no shard left half-written", filter_shards, db, out,
        **options,
    )


def _filter_dict(report: Any) -> dict[str, Any]:
    return {
        "run_id": report.run_id, "mode": report.mode, "out": str(report.out),
        "manifest": str(report.manifest), "format": report.fmt,
        "threshold": report.threshold, "flag_rule": report.flag_rule,
        **report.totals, "seconds": round(report.seconds, 3), "warnings": report.warnings,
    }


def _print_filter(report: Any) -> None:
    t = report.totals
    table = Table(
        title=f"corpus-scan filter: run {report.run_id}, mode {report.mode}", show_header=False
    )
    for key, value in [
        ("output", report.out),
        ("manifest", report.manifest),
        ("format", report.fmt),
        ("threshold", f"{report.threshold:g} ({report.flag_rule})"),
        ("shards", f"{t['shards']:,} ({t['files']:,} files: none for an empty shard)"),
        ("input documents", f"{t['input_docs']:,}"),
        ("flagged", f"{t['flagged']:,}"),
        ("written", f"{t['written']:,}"),
        ("dropped", f"{t['dropped']:,}"),
        ("duplicated", f"{t['duplicated']:,}"),
        ("bad records (not written)", f"{t['bad_records']:,}"),
        ("output MB", f"{t['output_bytes'] / 1e6:,.1f}"),
        ("time", f"{report.seconds:,.1f} s"),
    ]:
        table.add_row(key, value)
    console.print(table)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)


@app.command()
def topics(
    db: DbOption = Path("corpus_scan.duckdb"),
    mark: Annotated[
        list[str] | None,
        typer.Option(help="record a decision, e.g. 7=exclude, 3=include, 3=clear (repeatable)"),
    ] = None,
    min_topic_size: Annotated[
        int, typer.Option(help="smallest topic (shrinks for small data)")
    ] = 10,
    unit: Annotated[str, typer.Option(help="auto | passage | evidence")] = "auto",
    refit: Annotated[
        bool, typer.Option(help="fit again even if marks exist on the current fit")
    ] = False,
    run: Annotated[
        int | None, typer.Option("--run", help="run id (default: the run that finished last)")
    ] = None,
) -> None:
    """Fit BERTopic on the stored passage embeddings of flagged documents (never re-embedding),
    store topics in the database, and record triage decisions that `hits` and `filter` honour."""
    from corpus_scan.analyze import topics as run_topics

    try:
        result = run_topics(
            db,
            mark=mark or None,
            min_topic_size=min_topic_size,
            unit=unit,
            refit=refit,
            run_id=run,
        )
    except InputError as exc:
        _fail(str(exc))
    if result.topics:
        table = Table(
            "topic", "label", "passages", "docs", "decision", title=f"topics of run {result.run_id}"
        )
        for t in result.topics:
            table.add_row(
                str(t.topic),
                t.label,
                f"{t.n_passages:,}",
                f"{t.n_docs:,}",
                t.decision,
            )
        console.print(table)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    console.print(result.message, highlight=False, soft_wrap=True)


@app.command()
def report(
    db: DbOption = Path("corpus_scan.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="report folder")] = Path("reports/latest"),
    precision: Annotated[
        float | None, typer.Option(help="detector precision from `eval`, for adjusted prevalence")
    ] = None,
    recall: Annotated[float | None, typer.Option(help="detector recall from `eval`")] = None,
    precision_n: Annotated[
        int | None, typer.Option(help="flagged documents the precision was measured on")
    ] = None,
    recall_n: Annotated[
        int | None, typer.Option(help="positives the recall was measured on")
    ] = None,
    run: Annotated[
        int | None, typer.Option("--run", help="run id (default: the run that finished last)")
    ] = None,
    audit_per_band: Annotated[int, typer.Option(help="audit.csv documents per score band")] = 20,
    overwrite: Annotated[
        bool,
        typer.Option(help="replace a labelled audit.csv or files no earlier report wrote"),
    ] = False,
    threshold: Annotated[
        float | None,
        typer.Option(help="flag at this score instead of the scan's threshold (no rescan)"),
    ] = None,
) -> None:
    """Write the prevalence report: one self-contained index.html, summary.md, CSV tables,
    audit.csv."""
    from corpus_scan.analyze import report as run_report

    result = run_interruptible(
        f"{out}: report interrupted, the earlier report left as it was", run_report,
        db, out, precision=precision, recall=recall, precision_n=precision_n,
        recall_n=recall_n, run_id=run, audit_per_band=audit_per_band, overwrite=overwrite,
        threshold=threshold,
    )  # fmt: skip
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    console.print(result.message, highlight=False, soft_wrap=True)

# The detector's commands (eval, train, build-models) live in cli_detector.py.
app.command("eval")(cli_detector.eval_)
app.command()(cli_detector.train)
app.command("build-models")(cli_detector.build_models)


def main() -> None:
    """The `corpus-scan` entry point: the typer app, then a fast exit.

    Tearing down the interpreter (finalising pyarrow, DuckDB, numpy and pandas modules) takes
    ~0.15 s, 6% of a 400 MB lexicon scan; every command has closed its database and files by
    then, so the process ends with os._exit after flushing. Not when Ray is loaded: its atexit
    hook stops the local cluster it may have started.
    """
    code: int = 0
    try:
        app()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    if "ray" in sys.modules:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # `| head` closed the pipe: nothing left to say
        pass
    os._exit(code)


if __name__ == "__main__":
    main()
