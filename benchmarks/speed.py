"""Corpus-scale speed: corpus-scan against the text-search ceiling and a datatrove peer.

    .venv/bin/python benchmarks/speed.py [--quick] [--repeat N] [--write] [--profile]

In ONE run, on the same gzip JSONL input (benchmarks/make_corpus.py builds it when absent:
~414 MB / 332k documents of real web text in 8 shards; --quick uses the first 2 shards,
~103 MB), every row is run as a subprocess and measured the same way:
  wall     seconds from spawn to exit (process start-up and model loading included);
           each row runs --repeat times (default 1), in rounds (every row once, then again),
           the table shows min and median;
  MB/s     uncompressed JSONL bytes of the input / min wall;
  RSS      peak RSS of the whole process tree (the command and all its descendants, summed),
           polled every 0.1 s with psutil; shared pages count once per process, so this is
           an upper bound of real use.
Rows:
  ceiling     zcat FILES | rg -c -i -F -f TERMS (TERMS: the lexicon's flat literal terms, as
              in benchmarks/lexical_throughput.py); isal+orjson parse only; parse + corpus-scan's
              Prefilter alone (1 and 2 processes);
  peer        datatrove JsonlReader -> lexicon co-occurrence filter -> JsonlWriter, with
              Python `re` and with hyperscan (benchmarks/peers.py), 1 and 2 workers. Python
              `re` on this lexicon runs at ~1 MB/s, so it reads a sample (--re-sample-mb,
              the first documents of every shard) and its MB/s is of that sample;
  corpus-scan `corpus-scan scan FILES --db NEW --no-progress --json --workers 1|2`, lexicon
              stage only (--detector lexical) and the default cascade; also the lexicon stage
              on the same documents as zstd Parquet, and `--executor ray` when the CLI has it.
Memory check: peak tree RSS of the default cascade with 2 workers on the corpus and on a
corpus --mem-scale (4) times larger, built by replication with distinct ids and the same shard
size (so the 4x corpus has 4x the shards; listing the same files 4 times would not do:
discovery de-duplicates inputs). In --quick mode the 1x is the 2-shard subset and the 4x the
8-shard corpus. --profile adds a cProfile of a `--workers 1` default-cascade scan of the
2-shard subset (where the time goes, top functions). --write puts the tables, the exact
commands and the machine into benchmarks/RESULTS.md (RESULTS-quick.md with --quick).
Row keys for --only/--skip: rg parse prefilter1 prefilter2 dt_re1 dt_re2 dt_hs1 dt_hs2
cs_lexical1 cs_lexical2 cs_cascade1 cs_cascade2 cs_lexical2_parquet cs_cascade2_ray.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import make_corpus  # noqa: E402
from speed_rows import CLI, PY, build_rows, files_arg, rel, scan_cmd, show  # noqa: E402
from speed_runner import POLL_S, Row, run_row, run_rows  # noqa: E402
from speed_tables import fmt, machine, ratios, table, versions  # noqa: E402


def profile(files: list[Path], tmp: Path, top: int = 25) -> str:
    """cProfile of a --workers 1 default-cascade scan (in one process, so it sees everything)."""
    prof = tmp / "scan.prof"
    # the typer app itself: `corpus-scan`'s main() ends with os._exit, before cProfile writes
    script = tmp / "profile_scan.py"
    script.write_text(
        "import sys\nfrom corpus_scan.cli import app\n"
        "app(args=sys.argv[1:], standalone_mode=False)\n"
    )
    cmd = [
        PY,
        "-m",
        "cProfile",
        "-o",
        str(prof),
        str(script),
        "scan",
        *files_arg(files),
        "--db",
        str(tmp / "profile.duckdb"),
        "--workers",
        "1",
        "--no-progress",
        "--json",
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
    wall = time.perf_counter() - t0
    import inspect
    import io
    import pstats

    from corpus_scan.detect import embed

    st = pstats.Stats(str(prof))
    total = max(st.total_tt, 1e-9)

    def cum(path_part: str, func: str, line: int | None = None) -> float:
        return sum(
            v[3]
            for (f, ln, fn), v in st.stats.items()  # type: ignore[attr-defined]
            if path_part in f and fn == func and (line is None or ln == line)
        )

    static_line = inspect.getsourcelines(embed.StaticEmbedder.encode)[1]
    minilm_line = inspect.getsourcelines(embed.MiniLMEmbedder.encode)[1]
    parts = [
        ("read + parse (read_source)", cum("corpus_scan/sources/", "read_source")),
        ("lexicon prefilter (Prefilter.candidates)", cum("detect/prefilter.py", "candidates")),
        ("scorer total (Scorer.score)", cum("detect/scorer.py", "score")),
        (
            "  static embeddings (StaticEmbedder.encode)",
            cum("detect/embed.py", "encode", static_line),
        ),
        (
            "  MiniLM embeddings (MiniLMEmbedder.encode)",
            cum("detect/embed.py", "encode", minilm_line),
        ),
        ("  model loading (get_embedder)", cum("detect/embed.py", "get_embedder")),
        ("  hand features (features.feature_matrix)", cum("detect/features.py", "feature_matrix")),
        (
            "cascade build (get_cascade: lexicon, hyperscan compile, head)",
            cum("detect/cascade.py", "__init__"),
        ),
        ("database commits (Store.commit_shard)", cum("store/db.py", "commit_shard")),
    ]
    buf = io.StringIO()
    buf.write(
        f"command: {show(cmd, files)}\nwall under cProfile: {wall:.1f} s "
        f"(profiled {total:.1f} s)\n\nwhere the time goes (cumulative, overlapping):\n"
    )
    for name, secs in parts:
        buf.write(f"  {name:62s} {secs:7.2f} s  {100 * secs / total:5.1f}%\n")
    st.stream = buf  # type: ignore[attr-defined]
    buf.write("\n== corpus_scan functions by cumulative time ==\n")
    st.sort_stats("cumulative").print_stats("corpus_scan/", top)
    buf.write("\n== all functions by own time ==\n")
    st.sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    site = str(Path(psutil.__file__).resolve().parents[1]) + "/"
    text = text.replace(site, "").replace(str(REPO) + "/", "")
    keep = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    return "\n".join(
        ln for ln in keep if not ln.lstrip().startswith(("Ordered by", "List reduced"))
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=make_corpus.DEFAULT_OUT, help="corpus folder")
    ap.add_argument("--quick", action="store_true", help="first 2 shards only (~100 MB)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per row (min and median shown)")
    ap.add_argument(
        "--re-sample-mb",
        type=float,
        default=40,
        help="MB read by the datatrove+re rows (default 40; 0 = all)",
    )
    ap.add_argument("--mem-scale", type=int, default=4, help="memory check corpus scale (4)")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory check")
    ap.add_argument("--no-datatrove", action="store_true", help="skip the datatrove rows")
    ap.add_argument("--no-parquet", action="store_true", help="skip the Parquet row")
    ap.add_argument("--only", default=None, help="comma-separated row keys (see the log)")
    ap.add_argument("--skip", default=None, help="comma-separated row keys to leave out")
    ap.add_argument("--profile", action="store_true", help="cProfile a --workers 1 scan")
    ap.add_argument("--write", action="store_true", help="write benchmarks/RESULTS.md")
    args = ap.parse_args()
    t_start = time.perf_counter()
    load_before = os.getloadavg()

    manifest = make_corpus.build(args.data)
    shards = manifest["shards"]
    n = 2 if args.quick else len(shards)
    chosen = shards[:n]
    files = [args.data / s["jsonl"] for s in chosen]
    parquet = [args.data / s["parquet"] for s in chosen if s.get("parquet")]
    nbytes = sum(s["bytes"] for s in chosen)
    docs = sum(s["docs"] for s in chosen)
    info = machine()
    print(
        f"input: {n} gzip JSONL shards, {nbytes / 1e6:.1f} MB uncompressed, {docs:,} docs; "
        f"machine: {info['cpu']}, nproc {info['nproc']}, load {load_before[0]:.2f}",
        flush=True,
    )
    for f in [*files, *parquet]:  # warm the page cache: every row reads from memory
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass

    tmp = Path(tempfile.mkdtemp(prefix="speed-"))
    try:
        # untimed warm-up: builds the static model on first use, loads libraries into cache
        warm = tmp / "warm.jsonl"
        warm.write_text('{"id": "w", "text": "The AI refused to be shut down."}\n')
        subprocess.run(
            [
                CLI,
                "scan",
                str(warm),
                "--db",
                str(tmp / "warm.duckdb"),
                "--workers",
                "1",
                "--no-progress",
            ],
            check=True,
            capture_output=True,
            cwd=REPO,
        )

        rows = build_rows(args, files, parquet, nbytes, docs, tmp)
        if args.only:
            keep = set(args.only.split(","))
            rows = [r for r in rows if r.key in keep]
        if args.skip:
            drop = set(args.skip.split(","))
            args.skipped = [r.key for r in rows if r.key in drop]
            rows = [r for r in rows if r.key not in drop]
        run_rows(rows, args.repeat, tmp)

        mem_rows: list[Row] = []
        if not args.no_memory:
            base = next((r for r in rows if r.key == "cs_cascade2"), None)
            if args.quick:
                big = [args.data / s["jsonl"] for s in shards[: n * args.mem_scale]]
                big_bytes = sum(s["bytes"] for s in shards[: n * args.mem_scale])
                big_docs = sum(s["docs"] for s in shards[: n * args.mem_scale])
            else:
                x4 = make_corpus.build(
                    args.data / f"x{args.mem_scale}",
                    size_mb=manifest["request"]["size_mb"] * args.mem_scale,
                    n_shards=len(shards) * args.mem_scale,
                    parquet=False,
                )
                big = [args.data / f"x{args.mem_scale}" / s["jsonl"] for s in x4["shards"]]
                big_bytes, big_docs = x4["bytes"], x4["docs"]
            if base is None:
                base = Row(
                    "mem1",
                    "memory",
                    "full cascade, 1x",
                    2,
                    scan_cmd(files, 2),
                    nbytes,
                    docs,
                    files=files,
                )
                run_row(base, 1, tmp)
            bigrow = Row(
                f"mem{args.mem_scale}",
                "memory",
                f"full cascade, {args.mem_scale}x",
                2,
                scan_cmd(big, 2),
                big_bytes,
                big_docs,
                files=big,
            )
            run_row(bigrow, 1, tmp)
            mem_rows = [base, bigrow]

        prof_text = profile(files[:2], tmp) if args.profile else ""
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    load_after = os.getloadavg()
    total = time.perf_counter() - t_start
    out = [
        f"Input: {n} gzip JSONL shards ({'--quick' if args.quick else 'full'}), "
        f"{nbytes / 1e6:.1f} MB uncompressed, {docs:,} documents "
        f"({manifest['copies']} distinct-id copies of ../shared/corpora/web-jsonl).",
        "",
        table(rows, args.repeat),
        ratios(rows),
    ]
    if mem_rows:
        a, b = mem_rows
        lines = [
            "Memory check (default cascade, 2 workers; peak RSS of the process tree):",
            "",
            "| corpus | shards | MB | docs | wall s | MB/s | peak RSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in (a, b):
            lines.append(
                f"| {r.label} | {len(r.files)} | {r.nbytes / 1e6:,.0f} | {r.docs:,} | "
                f"{fmt(r.wall, 1)} | "
                f"{fmt(r.mbps)} | {fmt(r.peak_mb, 0)} |"
            )
        if a.rss and b.rss:
            lines.append(f"\nRSS {args.mem_scale}x / 1x: {b.peak_mb / a.peak_mb:.2f}")
        out += ["\n".join(lines), ""]
    if getattr(args, "skipped", None):
        out.append(f"Rows left out of this run (--skip): {', '.join(args.skipped)}.\n")
    out.append(
        f"Total benchmark time {total:.0f} s; load average before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f} (on {info['nproc']} CPUs)."
    )
    report = "\n".join(out)
    print("\n" + report)
    if prof_text:
        print("\n" + prof_text)
    if args.write:
        write_results(args, info, rows, mem_rows, report, prof_text)


def write_results(args, info, rows, mem_rows, report, prof_text) -> None:
    seen = {id(r) for r in rows}
    every = [*rows, *(r for r in mem_rows if id(r) not in seen)]
    cmds = [f"# {r.key}: {r.group}: {r.label}\n{show(r.cmd, r.files)}" for r in every]
    text = f"""# Corpus-scale speed

Measured by `benchmarks/speed.py` on {time.strftime("%Y-%m-%d %H:%M %Z")}:

    .venv/bin/python benchmarks/make_corpus.py        # once: benchmarks/data/ (git-ignored)
    .venv/bin/python benchmarks/speed.py {" ".join(sys.argv[1:])}

Machine: {info["cpu"]} ({info["simd"]}), nproc {info["nproc"]}, {info["mem_gib"]} GiB RAM,
Linux {info["kernel"]}, Python {info["python"]}; {versions()}.
The machine is shared: other jobs were running (see the load averages below), so single
figures are noisy; use --repeat N for min/median.

How it is measured: every row is a subprocess; wall = spawn to exit (start-up, imports and
model loading included); MB/s = uncompressed JSONL bytes of the input / min wall; peak RSS =
max over time of the summed RSS of the process tree (psutil, polled every {POLL_S} s; shared
pages counted once per process, so an upper bound). corpus-scan rows also give MB/s inside
`scan()` (its own timer: reading + detection + commits, without process start-up).

Caveats: the datatrove+re rows read a sample (the first documents of every shard; the
shards interleave all sources, so the sample is representative) because Python `re` on
this lexicon runs at ~1-2 MB/s. The datatrove filters do not apply the lexicon's `exclude`
patterns and test the window on bytes (hyperscan), so their kept counts differ slightly
from corpus-scan's candidates. rg counts lines holding ANY term (no co-occurrence): it is
a ceiling for reading + literal search, not the same rule.

{report}

## Exact commands

(bash, at the repository root; `{{db}}` is a fresh database in a temp dir; `terms.txt` is the
flat term list of `benchmarks/lexical_throughput.py`, written next to the corpus.)

```
{chr(10).join(cmds)}
```
"""
    if prof_text:
        text += f"\n## Profile: default cascade, --workers 1, 2 shards\n\n```\n{prof_text}\n```\n"
    path = REPO / "benchmarks" / ("RESULTS-quick.md" if args.quick else "RESULTS.md")
    path.write_text(text)
    print(f"\nwrote {rel(path)}")


if __name__ == "__main__":
    main()
