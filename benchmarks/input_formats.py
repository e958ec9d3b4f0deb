"""What the input format costs: the same documents in every format corpus-scan reads.

    HF_HUB_OFFLINE=1 python benchmarks/input_formats.py [--copies 4] [--repeat 3] [--workers 2]

Writes the documents of ../shared/corpora/web-jsonl (id, text, url), repeated `--copies`
times with distinct ids, as one file per format under a temporary folder: JSON lines plain,
gzip, zstd, bzip2 and xz; Parquet (zstd); Arrow IPC stream (what `datasets` writes); CSV.
Then times `corpus-scan scan FILE --db NEW --detector lexical --workers W` as a whole process
(start-up included), fastest of `--repeat`, and prints each format's wall time, MB/s of
document text (the same bytes for every row, so rows compare), the file size, and the
candidates found, which must be equal in every row (the same documents, whatever the format).
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import json
import lzma
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "corpora" / "web-jsonl"
CLI = str(Path(sys.executable).parent / "corpus-scan")


def load(copies: int) -> list[dict]:
    docs = []
    for f in sorted(SOURCE.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                docs.append({"id": str(r["id"]), "text": r["text"], "url": r.get("url")})
    return [{**d, "id": f"{d['id']}~{c}"} for c in range(copies) for d in docs]


def write_all(folder: Path, docs: list[dict]) -> dict[str, Path]:
    lines = b"".join(json.dumps(d, ensure_ascii=False).encode() + b"\n" for d in docs)
    files = {
        "JSON lines": ("web.jsonl", lambda b: b),
        "JSON lines, gzip": ("web.jsonl.gz", lambda b: gzip.compress(b, 6)),
        "JSON lines, zstd": ("web.jsonl.zst", lambda b: zstandard.ZstdCompressor(3).compress(b)),
        "JSON lines, bzip2": ("web.jsonl.bz2", lambda b: bz2.compress(b, 9)),
        "JSON lines, xz": ("web.jsonl.xz", lambda b: lzma.compress(b, preset=6)),
    }
    out: dict[str, Path] = {}
    for label, (name, pack) in files.items():
        out[label] = folder / name
        out[label].write_bytes(pack(lines))
    table = pa.Table.from_pylist(docs)
    out["Parquet (zstd)"] = folder / "web.parquet"
    pq.write_table(table, out["Parquet (zstd)"], compression="zstd", row_group_size=10_000)
    out["Arrow IPC stream"] = folder / "web.arrow"
    with pa.OSFile(str(out["Arrow IPC stream"]), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=1000):  # as `datasets` writes
                writer.write_batch(batch)
    out["CSV"] = folder / "web.csv"
    with out["CSV"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "text", "url"])
        w.writeheader()
        w.writerows(docs)
    return out


def scan(path: Path, db: Path, workers: int) -> tuple[float, dict]:
    db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [CLI, "scan", str(path), "--db", str(db), "--detector", "lexical", "--workers",
         str(workers), "--no-progress", "--json"],
        check=True, capture_output=True, text=True,
    )
    return time.perf_counter() - t0, json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    docs = load(args.copies)
    text_mb = sum(len(d["text"].encode()) for d in docs) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        files = write_all(Path(tmp), docs)
        best: dict[str, float] = {}
        seen: dict[str, dict] = {}
        for _ in range(args.repeat):
            for label, path in files.items():
                dt, summary = scan(path, Path(tmp) / "x.duckdb", args.workers)
                best[label] = min(dt, best.get(label, dt))
                seen[label] = summary
        print(f"{len(docs):,} documents ({text_mb:.1f} MB of text), --detector lexical "
              f"--workers {args.workers}, fastest of {args.repeat} whole-process runs\n")
        print(f"{'input':<20}{'file MB':>9}{'wall s':>8}{'text MB/s':>11}{'docs':>9}"
              f"{'candidates':>12}")
        for label, path in files.items():
            s = seen[label]
            print(f"{label:<20}{path.stat().st_size / 1e6:>9.1f}{best[label]:>8.2f}"
                  f"{text_mb / best[label]:>11.1f}{s['n_docs']:>9,}{s['n_candidates']:>12,}")
        if len({(s["n_docs"], s["n_candidates"]) for s in seen.values()}) != 1:
            raise SystemExit("formats disagree on documents or candidates: a reader bug")


if __name__ == "__main__":
    main()
