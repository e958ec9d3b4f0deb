"""Rebuild the shipped head with its CV figures: `python -m corpus_scan.training [--out DIR]
[--cv-seeds N]`, the same as `corpus-scan train --cv-seeds N` (default here: 8 fold splits).

Runs grouped 5-fold CV on dev.jsonl over N fold splits first (mean, spread and the category /
stance accuracy go into head.json `cv`), then fits on everything (dev + training_data/ +
narratives + web-jsonl) and writes head.npz + head.json (default: corpus_scan/models/).
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    from corpus_scan.training.recipe import train

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="output folder (default: the package models/)")
    ap.add_argument("--cv-seeds", type=int, default=8, help="fold splits (0: no CV)")
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    t = time.perf_counter()
    out = train(a.out, device=a.device, cv_seeds=a.cv_seeds)
    print(f"wrote {out} in {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
