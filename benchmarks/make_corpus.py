"""Build the speed-benchmark corpus: real web text replicated to a target size, distinct ids.

    .venv/bin/python benchmarks/make_corpus.py [OUT] [--size-mb 400] [--shards 8] [--no-parquet]

Reads ../shared/corpora/web-jsonl/*.jsonl.gz (found relative to the repository root; about
30 MB / 23.7k documents of real web text from 13 public corpora), and writes the records
`copies = ceil(size_mb / source_mb)` times, each copy with distinct ids (`<id>~<copy>`),
dealt round-robin over `--shards` files so every shard mixes all sources:

    OUT/jsonl/shard-00.jsonl.gz ...     gzip JSONL (zlib level 6, as `gzip` writes it)
    OUT/parquet/shard-00.parquet ...    the same records as zstd Parquet (unless --no-parquet)
    OUT/MANIFEST.json                   sizes, doc counts, copies: the benchmark reads this

Default OUT is benchmarks/data/ (git-ignored: never commit the corpus). Rebuilding with the
same arguments is skipped when MANIFEST.json already matches (use --force to rebuild).
The default (400 MB -> 14 copies, ~414 MB, ~332k docs) matches the corpus the targets in
benchmarks/speed.py were measured on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
SOURCE_DIR = REPO.parent / "shared" / "corpora" / "web-jsonl"
DEFAULT_OUT = REPO / "benchmarks" / "data"
FIELDS = ("id", "text", "url", "source")


def load_source(source_dir: Path = SOURCE_DIR) -> list[dict]:
    """Every record of the real corpora, fields limited to id/text/url/source."""
    import gzip

    files = sorted(source_dir.glob("*.jsonl.gz"))
    if not files:
        sys.exit(f"no *.jsonl.gz under {source_dir} (the shared corpora are needed)")
    records = []
    for f in files:
        with gzip.open(f, "rb") as fh:
            for k, line in enumerate(fh):
                rec = orjson.loads(line)
                if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                    continue
                out = {key: rec[key] for key in FIELDS if rec.get(key) is not None}
                out.setdefault("id", f"{f.name}:{k}")
                out.setdefault("source", f.name.split(".")[0])
                records.append(out)
    return records


def _lines(records: list[dict], copies: int, shard: int, n_shards: int) -> list[bytes]:
    n = len(records)
    out = []
    for g in range(shard, copies * n, n_shards):  # round-robin over (copy, record)
        c, i = divmod(g, n)
        rec = dict(records[i])
        rec["id"] = f"{rec['id']}~{c}"
        out.append(orjson.dumps(rec) + b"\n")
    return out


def _write_shard(args: tuple[list[dict], int, int, int, Path, bool]) -> dict:
    records, copies, shard, n_shards, out, parquet = args
    lines = _lines(records, copies, shard, n_shards)
    raw = b"".join(lines)
    name = f"shard-{shard:02d}"
    jpath = out / "jsonl" / f"{name}.jsonl.gz"
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip container, level 6 like `gzip`
    tmp = jpath.with_suffix(".gz.tmp")
    with open(tmp, "wb") as fh:
        for k in range(0, len(raw), 1 << 24):
            fh.write(comp.compress(raw[k : k + (1 << 24)]))
        fh.write(comp.flush())
    os.replace(tmp, jpath)
    info = {
        "shard": name,
        "jsonl": str(jpath.relative_to(out)),
        "docs": len(lines),
        "bytes": len(raw),
        "jsonl_gz_bytes": jpath.stat().st_size,
    }
    if parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [orjson.loads(line) for line in lines]
        table = pa.Table.from_pylist(rows, schema=_schema())
        ppath = out / "parquet" / f"{name}.parquet"
        pq.write_table(table, ppath.with_suffix(".tmp"), compression="zstd", row_group_size=8192)
        os.replace(ppath.with_suffix(".tmp"), ppath)
        info["parquet"] = str(ppath.relative_to(out))
        info["parquet_bytes"] = ppath.stat().st_size
    return info


def _schema():
    import pyarrow as pa

    return pa.schema([(k, pa.string()) for k in FIELDS])


def build(
    out: Path = DEFAULT_OUT,
    size_mb: float = 400,
    n_shards: int = 8,
    parquet: bool = True,
    force: bool = False,
    jobs: int | None = None,
) -> dict:
    """Build (or reuse) the corpus in `out`; returns its manifest."""
    out = Path(out)
    manifest_path = out / "MANIFEST.json"
    want = {"size_mb": size_mb, "shards": n_shards, "parquet": parquet, "source": str(SOURCE_DIR)}
    if manifest_path.exists() and not force:
        have = json.loads(manifest_path.read_text())
        if have.get("request") == want and all((out / s["jsonl"]).exists() for s in have["shards"]):
            return have
    t0 = time.perf_counter()
    records = load_source()
    source_bytes = sum(len(orjson.dumps(r)) + 1 for r in records)
    copies = max(1, math.ceil(size_mb * 1e6 / source_bytes))
    for sub in ("jsonl", "parquet"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "jsonl").mkdir(parents=True, exist_ok=True)
    if parquet:
        (out / "parquet").mkdir(parents=True, exist_ok=True)
    jobs = jobs or min(n_shards, os.cpu_count() or 1)
    tasks = [(records, copies, k, n_shards, out, parquet) for k in range(n_shards)]
    with ProcessPoolExecutor(jobs) as pool:
        shards = list(pool.map(_write_shard, tasks))
    manifest = {
        "request": want,
        "copies": copies,
        "source_docs": len(records),
        "source_bytes": source_bytes,
        "docs": sum(s["docs"] for s in shards),
        "bytes": sum(s["bytes"] for s in shards),
        "jsonl_gz_bytes": sum(s["jsonl_gz_bytes"] for s in shards),
        "parquet_bytes": sum(s.get("parquet_bytes", 0) for s in shards),
        "shards": shards,
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help="output folder")
    ap.add_argument("--size-mb", type=float, default=400, help="uncompressed size (default 400)")
    ap.add_argument("--shards", type=int, default=8, help="number of shards (default 8)")
    ap.add_argument("--no-parquet", action="store_true", help="skip the Parquet copy")
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    ap.add_argument("--jobs", type=int, default=None, help="parallel writers (default: cores)")
    args = ap.parse_args()
    m = build(args.out, args.size_mb, args.shards, not args.no_parquet, args.force, args.jobs)
    print(
        f"{args.out}: {len(m['shards'])} shards, {m['docs']:,} docs, "
        f"{m['bytes'] / 1e6:,.1f} MB uncompressed ({m['copies']} copies of "
        f"{m['source_docs']:,} docs / {m['source_bytes'] / 1e6:.1f} MB), "
        f"{m['jsonl_gz_bytes'] / 1e6:,.1f} MB gzip JSONL"
        + (f", {m['parquet_bytes'] / 1e6:,.1f} MB zstd Parquet" if m["parquet_bytes"] else "")
        + f"; built in {m['build_seconds']} s"
    )


if __name__ == "__main__":
    main()
