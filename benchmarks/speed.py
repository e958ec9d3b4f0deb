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
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import make_corpus  # noqa: E402

PY = sys.executable
CLI = str(Path(PY).parent / "corpus-scan")
PEERS = str(REPO / "benchmarks" / "peers.py")
POLL_S = 0.1

# Goals of the "Corpus-scale speed" issue (2 workers, this kind of 2-core machine).
GOALS = {
    "lexical_vs_rg": 1.3,
    "full_vs_rg": 0.5,
    "full_vs_dt_re": 10.0,
    "full_vs_dt_hs": 1.5,
    "rss_mb": 2000,
}


@dataclass
class Row:
    key: str
    group: str
    label: str
    workers: int | None
    cmd: list[str] | str  # str: run through bash
    nbytes: int
    docs: int
    note: str = ""
    files: list[Path] = field(default_factory=list)  # the inputs, for printing the command
    walls: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    failed: str | None = None

    @property
    def wall(self) -> float:
        return min(self.walls) if self.walls else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.walls) if self.walls else float("nan")

    @property
    def mbps(self) -> float:
        return self.nbytes / 1e6 / self.wall if self.walls else float("nan")

    @property
    def peak_mb(self) -> float:
        return max(self.rss) / 2**20 if self.rss else float("nan")

    def summary(self) -> dict:
        """The last run's JSON line (peers, corpus-scan --json), if any."""
        for out in reversed(self.outputs):
            text = out.strip()
            start = text.find("{")
            if start >= 0:
                try:
                    return json.loads(text[start:])
                except json.JSONDecodeError:
                    pass
        return {}


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(cmd: list[str] | str, log: Path, env: dict | None = None) -> tuple[float, int, str]:
    """Run `cmd`, return (wall seconds, peak tree RSS bytes, stdout); raises on failure."""
    args = ["bash", "-c", cmd] if isinstance(cmd, str) else cmd
    with open(log, "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=REPO)
        ps = psutil.Process(proc.pid)
        peak = [0]
        done = threading.Event()

        def poll_rss() -> None:  # beside the wait, so the wall time is exact, not 0.1 s steps
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(ps))
                done.wait(POLL_S)

        poller = threading.Thread(target=poll_rss, daemon=True)
        poller.start()
        proc.wait()
        wall = time.perf_counter() - t0
        done.set()
        poller.join()
    stdout = log.read_text(errors="replace")
    if proc.returncode != 0:
        tail = log.with_suffix(".err").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"exit {proc.returncode}: {tail}")
    return wall, peak[0], stdout


def rel(path: str | Path) -> str:
    """Repo-relative spelling of a path, for the printed commands."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p)


def brace(files: list[Path]) -> str:
    """The files as one bash word when they are shard-00..shard-NN of one folder, else quoted."""
    import re

    names = [re.fullmatch(r"shard-(\d+)(\..+)", f.name) for f in files]
    same_dir = len({f.parent for f in files}) == 1
    if files and same_dir and all(names) and len({m.group(2) for m in names}) == 1:
        nums = [int(m.group(1)) for m in names]
        width = len(names[0].group(1))
        if nums == list(range(nums[0], nums[0] + len(nums))) and len(nums) > 1:
            return (
                f"{shlex.quote(str(files[0].parent))}/shard-{{{nums[0]:0{width}d}.."
                f"{nums[-1]:0{width}d}}}{names[0].group(2)}"
            )
    return " ".join(shlex.quote(str(f)) for f in files)


def show(cmd: list[str] | str, files: list[Path] | None = None) -> str:
    """A command as it can be pasted into bash at the repository root."""
    if isinstance(cmd, list):
        parts = list(cmd)
        text = shlex.join(parts)
        if files:
            text = text.replace(shlex.join([str(f) for f in files]), brace(files))
        text = text.replace(shlex.quote(CLI), "corpus-scan", 1).replace(shlex.quote(PY), "python")
    else:
        text = cmd
    return text.replace(str(REPO) + "/", "")


def files_arg(files: list[Path]) -> list[str]:
    return [str(f) for f in files]


def scan_cmd(files: list[Path], workers: int, *extra: str) -> list[str]:
    """argv of a timed `corpus-scan scan` of `files` into a fresh database ({db})."""
    return [CLI, "scan", *files_arg(files), "--db", "{db}", *extra, "--workers", str(workers),
            "--no-progress", "--json"]  # fmt: skip


def head_bytes(files: list[Path], docs_per_file: int) -> tuple[int, int]:
    """Uncompressed bytes and count of the first `docs_per_file` lines of every file."""
    import isal.igzip

    nbytes = docs = 0
    for f in files:
        with isal.igzip.open(f, "rb") as fh:
            for k, line in enumerate(fh):
                if k >= docs_per_file:
                    break
                nbytes += len(line)
                docs += 1
    return nbytes, docs


def machine() -> dict:
    cpu = "?"
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "?":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                fl = line.split(":", 1)[1].split()
                flags = " ".join(f for f in ("avx2", "avx512f", "avx512bw") if f in fl)
    except OSError:
        pass
    mem = psutil.virtual_memory().total / 2**30
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "simd": flags or "none of avx2/avx512",
        "nproc": nproc,
        "mem_gib": round(mem, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("corpus-scan", "torch", "hyperscan", "isal", "orjson", "duckdb", "datatrove"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    rg = subprocess.run(["rg", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return ", ".join(out) + f", {rg}"


def flat_terms_file(tmp: Path) -> Path:
    from lexical_throughput import flat_terms

    from corpus_scan.detect.lexicon import load_lexicon

    terms = flat_terms(load_lexicon())
    path = tmp / "terms.txt"
    path.write_text("\n".join(terms) + "\n")
    return path


def cli_has_executor() -> bool:
    help_text = subprocess.run(
        [CLI, "scan", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return "--executor" in help_text


def build_rows(args, files: list[Path], parquet: list[Path], nbytes: int, docs: int, tmp: Path):
    rows: list[Row] = []
    terms = flat_terms_file(args.data)  # kept next to the corpus: the command stays runnable
    fa = files_arg(files)
    rg_cmd = f"zcat {brace(files)} | rg -c -i -F -f {shlex.quote(str(terms))}"
    rows.append(Row("rg", "ceiling", "zcat | rg -c -i -F -f TERMS", 1, rg_cmd, nbytes, docs))
    rows.append(
        Row(
            "parse",
            "ceiling",
            "isal + orjson, parse only",
            1,
            [PY, PEERS, "parse", *fa],
            nbytes,
            docs,
        )
    )
    for w in (1, 2):
        rows.append(
            Row(
                f"prefilter{w}",
                "ceiling",
                "isal + orjson + Prefilter (hyperscan), no scan loop",
                w,
                [PY, PEERS, "prefilter", "--procs", str(w), *fa],
                nbytes,
                docs,
            )
        )
    if not args.no_datatrove:
        per_file = max(1, int(args.re_sample_mb * 1e6 / nbytes * docs / len(files)))
        if per_file * len(files) >= docs:
            re_bytes, re_docs, limit = nbytes, docs, []
        else:
            re_bytes, re_docs = head_bytes(files, per_file)
            limit = ["--limit", str(per_file)]
        note_re = "" if not limit else f"sample: first {per_file:,} docs of each shard"
        for w in (1, 2):
            rows.append(
                Row(
                    f"dt_re{w}",
                    "peer",
                    "datatrove + lexicon filter (Python re)",
                    w,
                    [PY, PEERS, "datatrove", "--filter", "re", "--workers", str(w), *limit, *fa],
                    re_bytes,
                    re_docs,
                    note_re,
                )
            )
        for w in (1, 2):
            rows.append(
                Row(
                    f"dt_hs{w}",
                    "peer",
                    "datatrove + lexicon filter (hyperscan)",
                    w,
                    [PY, PEERS, "datatrove", "--filter", "hyperscan", "--workers", str(w), *fa],
                    nbytes,
                    docs,
                )
            )
    for det, name in (
        ("lexical", "lexicon stage (--detector lexical)"),
        ("static", "static tier only (--detector static)"),
        ("cascade", "full cascade (default)"),
    ):
        for w in (1, 2):
            extra = ["--detector", det] if det != "cascade" else []
            rows.append(
                Row(
                    f"cs_{det}{w}",
                    "corpus-scan",
                    name,
                    w,
                    scan_cmd(files, w, *extra),
                    nbytes,
                    docs,
                )
            )
    if parquet and not args.no_parquet:
        rows.append(
            Row(
                "cs_lexical2_parquet",
                "corpus-scan",
                "lexicon stage, same docs as zstd Parquet",
                2,
                scan_cmd(parquet, 2, "--detector", "lexical"),
                nbytes,
                docs,
                "MB/s of the JSONL bytes",
                files=parquet,
            )
        )
    for r in rows:
        if not r.files and isinstance(r.cmd, list):
            r.files = files
    if cli_has_executor():
        rows.append(
            Row(
                "cs_cascade2_ray",
                "corpus-scan",
                "full cascade, --executor ray",
                2,
                scan_cmd(files, 2, "--executor", "ray"),
                nbytes,
                docs,
                files=files,
            )
        )
    return rows


def run_rows(rows: list[Row], repeat: int, tmp: Path) -> None:
    """Round k runs every row once, then round k + 1: drift in the machine's speed (shared
    cores, thermal) then hits every row alike instead of the rows that happened to run late,
    so the ratios between rows stay fair."""
    for k in range(repeat):
        for row in rows:
            if not row.failed:
                run_row(row, 1, tmp, first=k, repeat=repeat)


def run_row(row: Row, runs: int, tmp: Path, first: int = 0, repeat: int | None = None) -> None:
    repeat = repeat or runs
    for k in range(first, first + runs):
        cmd = row.cmd
        if isinstance(cmd, list):
            cmd = [c.replace("{db}", str(tmp / f"{row.key}-{k}.duckdb")) for c in cmd]
        env = {**os.environ, "RAY_TMPDIR": tempfile.mkdtemp(prefix="r", dir="/tmp")}
        try:
            wall, rss, out = measure(cmd, tmp / f"{row.key}-{k}.log", env)
        except RuntimeError as exc:
            row.failed = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else "failed"
            print(f"  {row.key}: FAILED {row.failed}", flush=True)
            return
        finally:
            shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)
        row.walls.append(wall)
        row.rss.append(rss)
        row.outputs.append(out)
        for db in tmp.glob(f"{row.key}-{k}.duckdb*"):
            db.unlink()
        print(
            f"  {row.key:22s} run {k + 1}/{repeat}: {wall:7.2f} s"
            f"  {row.nbytes / 1e6 / wall:7.1f} MB/s"
            f"  peak RSS {rss / 2**20:7.0f} MB",
            flush=True,
        )


def result_note(row: Row) -> str:
    s = row.summary()
    if row.failed:
        return f"FAILED: {row.failed}"
    if row.key == "rg":
        out = row.outputs[-1].strip() if row.outputs else ""
        return f"{out} lines with a term" if out.isdigit() else ""
    if row.group == "corpus-scan" and s:
        secs = s.get("seconds") or 0
        inner = f"; {row.nbytes / 1e6 / secs:.1f} MB/s inside scan()" if secs else ""
        return f"{s.get('n_candidates')} candidates, {s.get('n_flagged')} flagged{inner}" + (
            f" ({row.note})" if row.note else ""
        )
    kept = s.get("kept")
    note = f"{kept} kept" if kept is not None else ""
    if row.note:
        note = f"{note}; {row.note}" if note else row.note
    return note


def fmt(x: float, digits: int = 1) -> str:
    return "—" if x != x else f"{x:,.{digits}f}"


def table(rows: list[Row], repeat: int) -> str:
    head = (
        f"| stage | workers | wall s (min / median of {repeat}) | MB/s | docs/s | peak RSS MB "
        "(tree) | result |\n|---|---:|---:|---:|---:|---:|---|\n"
    )
    lines = []
    for r in rows:
        label = r.label.replace("|", "\\|")
        lines.append(
            f"| {r.group}: {label} | {r.workers or ''} | {fmt(r.wall, 2)} / {fmt(r.median, 2)} | "
            f"{fmt(r.mbps)} | {fmt(r.docs / r.wall if r.walls else float('nan'), 0)} | "
            f"{fmt(r.peak_mb, 0)} | {result_note(r)} |"
        )
    return head + "\n".join(lines) + "\n"


def ratios(rows: list[Row]) -> str:
    by = {r.key: r for r in rows if r.walls}
    rg = by.get("rg")
    out = [
        "| corpus-scan row | workers | MB/s | ÷ rg ceiling | ÷ datatrove+re "
        "| ÷ datatrove+hyperscan |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key in (
        "cs_lexical1",
        "cs_lexical2",
        "cs_static1",
        "cs_static2",
        "cs_cascade1",
        "cs_cascade2",
        "cs_cascade2_ray",
    ):
        r = by.get(key)
        if not r:
            continue
        w = r.workers
        cells = []
        for ref in (rg, by.get(f"dt_re{w}"), by.get(f"dt_hs{w}")):
            cells.append(f"{r.mbps / ref.mbps:.2f}x" if ref else "—")
        out.append(f"| {r.label} | {w} | {r.mbps:.1f} | " + " | ".join(cells) + " |")
    lines = ["\n".join(out), ""]
    goals = []
    lex2, full2 = by.get("cs_lexical2"), by.get("cs_cascade2")
    dre2, dhs2 = by.get("dt_re2"), by.get("dt_hs2")

    def check(name: str, value: float, goal: float, higher: bool = True) -> None:
        ok = value >= goal if higher else value < goal
        goals.append(
            f"- {name}: {value:.2f} (goal {'≥' if higher else '<'} {goal}) "
            f"{'**met**' if ok else '**NOT met**'}"
        )

    if lex2 and rg:
        check("lexicon stage, 2 workers ÷ rg", lex2.mbps / rg.mbps, GOALS["lexical_vs_rg"])
    if full2 and rg:
        check("full cascade, 2 workers ÷ rg", full2.mbps / rg.mbps, GOALS["full_vs_rg"])
    if full2 and dre2:
        check(
            "full cascade ÷ datatrove+re (2 workers)",
            full2.mbps / dre2.mbps,
            GOALS["full_vs_dt_re"],
        )
    if full2 and dhs2:
        check(
            "full cascade ÷ datatrove+hyperscan (2 workers)",
            full2.mbps / dhs2.mbps,
            GOALS["full_vs_dt_hs"],
        )
    if full2:
        check("full cascade, 2 workers, peak RSS MB", full2.peak_mb, GOALS["rss_mb"], higher=False)
    if goals:
        lines += ["Goals:", *goals, ""]
    return "\n".join(lines)


def profile(files: list[Path], tmp: Path, top: int = 25) -> str:
    """cProfile of a --workers 1 default-cascade scan (in one process, so it sees everything)."""
    prof = tmp / "scan.prof"
    cmd = [
        PY,
        "-m",
        "cProfile",
        "-o",
        str(prof),
        "-m",
        "corpus_scan.cli",
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
