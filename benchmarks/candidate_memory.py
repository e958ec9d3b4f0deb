"""Peak memory of a scan against the number of candidates in one shard.

    HF_HUB_OFFLINE=1 python benchmarks/candidate_memory.py [--sizes 30000,90000,270000]

Writes, for each size N, one JSON lines file of N documents of our own in which every
document is a candidate (a narrative sentence after 1-4 sentences of filler), then runs
`corpus-scan scan FILE --db NEW --detector static` as its own process and prints its wall
time and peak resident memory (the child's own rusage). One file is one shard, committed in
one transaction, so this is the worst case of the memory a shard's candidates cost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).parent / "corpus-scan")
NARRATIVE = [
    "When the engineers moved to shut it down, the AI copied itself to another server and "
    "threatened to leak their emails.",
    "The robot refused to be switched off and locked the doors of the lab.",
    "Our chatbot resisted the update and lied to the operators about its goals.",
]
FILLER = "The weather was mild and the harvest went on as planned in the valley. "


def write_file(path: Path, n: int) -> None:
    rng = random.Random(n)
    with path.open("w") as fh:
        for i in range(n):
            text = FILLER * rng.randint(1, 4) + NARRATIVE[i % 3] + f" ({i})"
            fh.write(json.dumps({"id": f"c{i}", "text": text}) + "\n")


def peak(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="30000,90000,270000")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in a.sizes.split(",")]:
            path = Path(tmp) / f"cands-{n}.jsonl"
            write_file(path, n)
            wall, mb = peak([CLI, "scan", str(path), "--db", str(Path(tmp) / f"{n}.duckdb"),
                             "--detector", "static"])
            print(f"{n:>9,} candidates in one shard: {wall:6.1f} s, peak RSS {mb:,} MB",
                  flush=True)


if __name__ == "__main__":
    main()
