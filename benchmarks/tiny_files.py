"""What many tiny files cost: a scan of N one-line JSON lines files in 20 folders.

    HF_HUB_OFFLINE=1 python benchmarks/tiny_files.py [--files 2000] [--repeat 3]

Writes the files (our own one-line texts, every 7th one a narrative sentence) under a
temporary folder and times `corpus-scan scan DIR --db NEW` as a whole process (start-up and
model loading included) with `--detector lexical --workers 1` and with the defaults, printing
the fastest wall time of each and the milliseconds per file. The per-file cost is what a
shard costs beyond its bytes: discovery, one read, the shard's row in the database.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).parent / "corpus-scan")


def write_files(root: Path, n: int) -> None:
    for i in range(n):
        folder = root / f"f{i % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        text = ("When they moved to shut it down, the AI threatened to leak the engineers' mail."
                if i % 7 == 0 else f"Ordinary note number {i} about bread and gardening.")
        (folder / f"x{i:05d}.jsonl").write_text(json.dumps({"id": f"t{i}", "text": text}) + "\n")


def timed(args: list[str], db: Path) -> float:
    db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    subprocess.run([CLI, "scan", *args, "--db", str(db)], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tiny"
        write_files(root, a.files)
        rows = {"--detector lexical --workers 1": ["--detector", "lexical", "--workers", "1"],
                "defaults (cascade, 2 workers)": []}
        print(f"{a.files:,} one-line files in 20 folders; fastest of {a.repeat} whole-process runs")
        for name, extra in rows.items():
            best = min(timed([str(root), *extra], Path(tmp) / "x.duckdb")
                       for _ in range(a.repeat))
            print(f"  scan {name}: {best:.2f} s, {1000 * best / a.files:.2f} ms per file")


if __name__ == "__main__":
    main()
