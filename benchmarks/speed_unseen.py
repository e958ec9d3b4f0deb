"""The default cascade's speed on web text its head never saw, against `zcat | rg`.

`benchmarks/speed.py` times the shipped head on copies of web-jsonl, whose prefilter
candidates were all in the head's training data (as negatives). The static tier is sure of
documents it trained on, so few reach MiniLM, the costly tier. This script measures the
honest case: a head trained exactly as the shipped one but on one half of web-jsonl only
(`corpus_scan.training.data.web_half`), scanning a corpus made of the *other* half.

    HF_HUB_OFFLINE=1 python benchmarks/speed_unseen.py [--size-mb 400] [--repeat 3] [--halves 1,0]

For each scanned half H (default: 1, then 0), builds under benchmarks/data/unseen/
(git-ignored) the half-H documents of ../shared/corpora/web-jsonl replicated to ~SIZE MB in 8
gzip shards with distinct ids (once), and the cross-fitted head `head-webK` trained on the
other half K (every run, from the current recipe). Then, in rounds, each timed as a whole
process (start-up and model loading included):

    zcat SHARDS | rg -c -i -F -f terms.txt                       (the ceiling)
    corpus-scan scan SHARDS --db NEW --workers 2                  (shipped head: in-sample)
    corpus-scan scan SHARDS --db NEW --workers 2 --head head-webK (unseen: the honest figure)

and prints the fastest wall time of each, its ratio to rg's, and how many candidates reached
MiniLM and were flagged. Each half holds only ~25 distinct candidate documents, so the share
the band sends to MiniLM, and with it the unseen figure, moves from half to half: the last
line pools both halves (the sums of the fastest wall times).
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
SOURCE = REPO.parent / "shared" / "corpora" / "web-jsonl"
OUT = REPO / "benchmarks" / "data" / "unseen"
CLI = str(Path(sys.executable).parent / "corpus-scan")
FIELDS = ("id", "text", "url", "source")


def build_corpus(size_mb: int, half: int, shards: int = 8) -> list[Path]:
    from corpus_scan.training.data import web_half

    folder = OUT / f"half{half}-{size_mb}mb"
    files = [folder / f"shard-{i:02d}.jsonl.gz" for i in range(shards)]
    if all(f.is_file() for f in files):
        return files
    docs = []
    for f in sorted(SOURCE.glob("*.jsonl.gz")):
        with gzip.open(f, "rb") as fh:
            for line in fh:
                rec = orjson.loads(line)
                if web_half(rec["id"]) == half:
                    docs.append({k: rec.get(k) for k in FIELDS})
    one = sum(len(orjson.dumps(d)) + 1 for d in docs) / 1e6
    copies = max(1, round(size_mb / one))
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    outs = [gzip.open(tmp / f.name, "wb", compresslevel=6) for f in files]
    k = 0
    for c in range(copies):
        for d in docs:
            outs[k % shards].write(orjson.dumps({**d, "id": f"{d['id']}~{c}"}) + b"\n")
            k += 1
    for o in outs:
        o.close()
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    print(f"built {folder}: {len(docs):,} half-{half} documents x {copies} copies = {k:,} "
          "documents", flush=True)
    return files


def build_head(half: int) -> Path:
    """A head trained exactly as the shipped one, on web-jsonl half `half` only."""
    from corpus_scan.training.data import load_dev, load_extra
    from corpus_scan.training.fit import train_head

    # retrained every run (seconds with warm embedding caches): a head kept from an older
    # recipe would time a detector that no longer ships
    out = OUT / f"head-web{half}"
    head, _ = train_head(load_dev() + load_extra(web_halves=(half,)), device="cpu")
    head.save(out)
    print(f"trained {out} (web-jsonl half {half} only): band {head.band}", flush=True)
    return out


def terms_file() -> Path:
    from speed_rows import flat_terms_file

    return flat_terms_file(OUT)


def timed(cmd: list[str] | str) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, shell=isinstance(cmd, str), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def counts(db: Path) -> tuple[int, int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT count(*), count(*) FILTER (WHERE stage = 'minilm'), "
            "count(*) FILTER (WHERE flagged) FROM candidates").fetchall()[0]
    finally:
        con.close()


def measure(size_mb: int, half: int, repeat: int) -> tuple[float, dict[str, float]]:
    """Scan half `half` with the head trained on the other half; (MB, fastest wall per row)."""
    files = build_corpus(size_mb, half)
    head = build_head(1 - half)
    terms = terms_file()
    mb = 0.0
    for f in files:
        with gzip.open(f, "rb") as fh:
            mb += sum(len(line) for line in fh) / 1e6
    rows = {
        "zcat | rg (ceiling)": "zcat " + " ".join(map(str, files)) + f" | rg -c -i -F -f {terms}",
        "scan, shipped head (in-sample)": [],
        f"scan, head-web{1 - half} (unseen)": ["--head", str(head)],
    }
    best: dict[str, float] = {}
    seen: dict[str, tuple[int, int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(repeat):
            for name, extra in rows.items():
                db = Path(tmp) / f"{rnd}-{len(best)}.duckdb"
                if isinstance(extra, str):
                    dt = timed(extra)
                else:
                    dt = timed([CLI, "scan", *map(str, files), "--db", str(db), *extra,
                                "--workers", "2", "--no-progress", "--json"])
                    seen[name] = counts(db)
                    db.unlink()
                best[name] = min(dt, best.get(name, dt))
    rg = best["zcat | rg (ceiling)"]
    from speed_tables import machine

    info = machine()
    print(f"\nhalf {half}: {mb:.1f} MB uncompressed, {len(files)} shards; fastest of {repeat} "
          f"whole-process wall times; {info['cpu']} ({info['simd']}), nproc {info['nproc']}\n")
    print(f"{'row':<34}{'wall s':>8}{'MB/s':>8}{'÷ rg':>7}{'candidates':>12}{'to MiniLM':>11}"
          f"{'flagged':>9}")
    for name, dt in best.items():
        c = seen.get(name)
        tail = f"{c[0]:>12,}{c[1]:>11,}{c[2]:>9,}" if c else ""
        print(f"{name:<34}{dt:>8.2f}{mb / dt:>8.1f}{rg / dt:>6.2f}x{tail}", flush=True)
    return mb, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--halves", default="1,0", help="web-jsonl halves to scan (1,0 | 1 | 0)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = [measure(args.size_mb, int(h), args.repeat) for h in args.halves.split(",")]
    if len(results) > 1:
        rg = sum(best["zcat | rg (ceiling)"] for _, best in results)
        shipped = sum(best["scan, shipped head (in-sample)"] for _, best in results)
        unseen = sum(next(v for k, v in best.items() if "(unseen)" in k) for _, best in results)
        print(f"\nboth halves ({sum(mb for mb, _ in results):.1f} MB): rg {rg:.2f} s, shipped "
              f"head {shipped:.2f} s ({rg / shipped:.2f}x), unseen heads {unseen:.2f} s "
              f"({rg / unseen:.2f}x)")


if __name__ == "__main__":
    main()
