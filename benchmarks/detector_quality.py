"""Detector quality: grouped 5-fold CV on dev.jsonl (extra training sources in every training
fold) for cascade / minilm / static / lexical, category/stance accuracy, the same CV repeated
over several fold splits (mean and spread: the figure to quote), and the natural-balance
web check (flag count + flagged ids), plus tier speeds.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/detector_quality.py          # CV + web (all)
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/detector_quality.py --cv     # CV tables only
    ... detector_quality.py --cv --seeds 8   # the repeated CV over 8 fold splits (default 5)
    ... detector_quality.py --cv --seeds 4 --folds 10   # learning curve: heads see 90% of dev
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/detector_quality.py --web    # web flags only
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/detector_quality.py --speed  # windows/s

The web check scans shared/corpora/web-jsonl with the prefilter twice: cross-fitted (each web
half scored by a head trained without that half: the honest figure) and with the shipped head
(which saw every web candidate as a negative). CV ~12 s per split (5 by default), web ~10 s on
2 cores once the embedding cache (~/.cache/corpus-scan) is warm.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def cv(seeds: int = 5, folds: int = 5) -> None:
    from corpus_scan.training.calibration import calibration
    from corpus_scan.training.evaluate import bootstrap_interval, format_table, repeated_cv

    t = time.perf_counter()
    aux: list = []
    oof: dict = {}
    # split 0 runs once, for both tables
    rep = repeated_cv(range(max(1, seeds)), aux=aux, oof=oof, n_splits=folds)
    rows = rep.first
    print(format_table(rows))
    print("\n95% intervals, 2,000 bootstrap resamples of dev groups (out-of-fold scores):")
    for r in rows:
        ci = bootstrap_interval(oof[r.name], oof["y"], r.threshold, oof["groups"])
        cells = "  ".join(f"{k} [{lo:.3f}, {hi:.3f}]" for k, (lo, hi) in ci.items())
        print(f"  {r.name:<10} {cells}")
    print()
    print(calibration(oof["cascade"], oof["y"]).table("cascade, out-of-fold"))
    print()
    print(aux[0].row())
    print("category confusion (true -> predicted):", aux[0].category_confusion)
    if seeds > 1:
        print("\nThe same CV over other fold splits (seed 0 is the split above):")
        print(rep.table())
    print(f"\n({folds}-fold CV over {max(1, seeds)} split(s), each head trained on "
          f"{1 - 1 / folds:.0%} of dev: {time.perf_counter() - t:.0f} s)")


def _print_web(title: str, result: tuple) -> None:
    n_docs, n_cand, flags, stats = result
    print(f"\n{title}: docs={n_docs} candidates={n_cand} flagged={len(flags)} "
          f"sent_to_minilm={int(stats.get('minilm_docs', 0))}/{int(stats.get('docs', 0))} "
          f"({stats.get('minilm_share', 0):.1%}) "
          f"minilm_passages={int(stats.get('minilm_passages', 0))}")
    for f in flags:
        print(f"  {f.score:.3f} {f.stage:<6} half={f.half} {f.id}: {f.passage[:160]!r}")


def web() -> None:
    from corpus_scan.training.evaluate import web_check, web_crossfit

    t = time.perf_counter()
    _print_web("web-jsonl cross-fitted", web_crossfit())
    _print_web("web-jsonl shipped head", web_check())
    print(f"\n(web {time.perf_counter() - t:.0f} s)")


def speed(n: int = 256) -> None:
    from corpus_scan.detect.embed import get_embedder
    from corpus_scan.training.data import load_dev
    from corpus_scan.training.fit import passage_windows

    windows = passage_windows(load_dev())
    windows = (windows * (n // max(1, len(windows)) + 1))[:n]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from speed_tables import machine

    info = machine()  # int8 MiniLM runs ~1.45x faster with VNNI: say which CPU this was
    print(f"machine: {info['cpu']} ({info['simd']}), nproc {info['nproc']}")
    for tier in ("static", "minilm"):
        emb = get_embedder(tier, "cpu")
        emb.encode(windows[:8])
        k = n if tier == "static" else min(n, 64)
        t = time.perf_counter()
        emb.encode(windows[:k])
        dt = time.perf_counter() - t
        print(f"{tier:<7} {k / dt:8.1f} windows/s  (mean {sum(map(len, windows)) / n:.0f} chars)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cv", action="store_true")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--web", action="store_true")
    ap.add_argument("--seeds", type=int, default=5,
                    help="fold splits of the repeated CV (1 = the single split only)")
    ap.add_argument("--folds", type=int, default=5,
                    help="folds per split (3 or 10: a learning curve; 5 is the quoted figure)")
    a = ap.parse_args()
    if a.speed:
        speed()
    if a.cv or not (a.speed or a.web):
        cv(a.seeds, a.folds)
    if a.web or not (a.speed or a.cv):
        web()
