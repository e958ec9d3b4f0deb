"""When to split a big compressed JSON lines file between workers.

    HF_HUB_OFFLINE=1 python benchmarks/big_files.py [--files 4] [--copies 7] [--repeat 3]

A JSON lines part reads the whole stream (it counts every line so that row numbers stay exact)
and parses only its own batches, so each part of a gzip file decompresses all of it. Writes
`--files` gzip JSON lines files, each `--copies` copies of ../shared/corpora/web-jsonl with
distinct ids (~75 MB on disk at the default, above the 64 MB at which a shard may be split),
into a temporary folder, then times as whole processes, fastest of `--repeat`:

    corpus-scan scan FILES --db NEW --detector lexical --workers 2     (the shipped plan)
    the same with every file over 64 MB split into one part per worker (the plan before)

for all the files, and for the first file alone (where splitting is what keeps both workers
busy). The "before" rows patch `corpus_scan.run.units.plan_units` in the scanning process
with the old rule; everything else is the same command.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "corpora" / "web-jsonl"

# The rule before: split every splittable shard over unit_bytes into min(workers, size /
# unit_bytes) parts, however many other shards there are.
OLD_RULE = """
import math, sys
import corpus_scan.run.scan as scan_module
from corpus_scan.run.units import WorkUnit, DEFAULT_UNIT_BYTES
from corpus_scan.sources import SPLITTABLE

def plan_units(items, workers, unit_bytes=DEFAULT_UNIT_BYTES):
    units = []
    for shard_id, source in items:
        n = 1
        if workers > 1 and source.format in SPLITTABLE and source.size:
            n = max(1, min(workers, math.ceil(source.size / unit_bytes)))
        units.extend(WorkUnit(shard_id, source, k, n) for k in range(n))
    return units

scan_module.plan_units = plan_units
from corpus_scan.cli import main
sys.argv = ["corpus-scan", *sys.argv[1:]]
main()
"""


def write_files(folder: Path, files: int, copies: int) -> list[Path]:
    docs = []
    for f in sorted(SOURCE.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            docs.extend(json.loads(line) for line in fh)
    out = []
    for k in range(files):
        path = folder / f"big-{k}.jsonl.gz"
        with gzip.open(path, "wb", compresslevel=6) as fh:
            for c in range(copies):
                for d in docs:
                    row = {"id": f"{d['id']}~{k}~{c}", "text": d["text"], "url": d.get("url")}
                    fh.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
        out.append(path)
    return out


def run(cmd: list[str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0, json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--copies", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    cli = [sys.executable, "-c", "from corpus_scan.cli import main; main()"]
    old = [sys.executable, "-c", OLD_RULE]
    with tempfile.TemporaryDirectory(dir=REPO / "benchmarks") as tmp:
        files = write_files(Path(tmp), args.files, args.copies)
        cases = {f"{len(files)} files": files, "1 file": files[:1]}
        best: dict[tuple[str, str], float] = {}
        seen: dict[tuple[str, str], dict] = {}
        for _ in range(args.repeat):
            for case, paths in cases.items():
                for plan, prog in (("shipped", cli), ("split every big file", old)):
                    db = Path(tmp) / "x.duckdb"
                    db.unlink(missing_ok=True)
                    dt, summary = run([*prog, "scan", *map(str, paths), "--db", str(db),
                                       "--detector", "lexical", "--workers",
                                       str(args.workers), "--no-progress", "--json"])
                    best[case, plan] = min(dt, best.get((case, plan), dt))
                    seen[case, plan] = summary
        sizes = ", ".join(f"{p.stat().st_size / 1e6:.1f}" for p in files)
        print(f"{len(files)} gzip JSON lines files ({sizes} MB on disk), --detector lexical "
              f"--workers {args.workers}, fastest of {args.repeat} whole-process runs\n")
        print(f"{'input':<10}{'plan':<24}{'wall s':>8}{'docs':>11}{'candidates':>12}")
        for (case, plan), dt in best.items():
            s = seen[case, plan]
            print(f"{case:<10}{plan:<24}{dt:>8.2f}{s['n_docs']:>11,}{s['n_candidates']:>12,}")
        for case in cases:
            a, b = seen[case, "shipped"], seen[case, "split every big file"]
            if (a["n_docs"], a["n_candidates"]) != (b["n_docs"], b["n_candidates"]):
                raise SystemExit(f"{case}: the two plans disagree on documents or candidates")


if __name__ == "__main__":
    main()
