"""Detector quality: grouped 5-fold CV on dev.jsonl (extra training sources in every training
fold) for cascade / minilm / static / lexical, plus optional speed and web natural-balance runs.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/detector_quality.py            # CV table
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/detector_quality.py --speed    # windows/s
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/detector_quality.py --web      # web flags

`--web` scans shared/corpora/web-jsonl with the prefilter and the shipped cascade and prints
every flagged document with its web split half (half 1 was never used for training).
Takes ~1-3 minutes on 2 cores once the embedding cache (~/.cache/corpus-scan) is warm.
"""

from __future__ import annotations

import argparse
import time


def cv() -> None:
    from corpus_scan.training.evaluate import cross_validate, format_table

    t = time.perf_counter()
    rows = cross_validate()
    print(format_table(rows))
    print(f"\n({time.perf_counter() - t:.0f} s)")


def speed(n: int = 256) -> None:
    from corpus_scan.detect.embed import get_embedder
    from corpus_scan.training.data import load_dev
    from corpus_scan.training.fit import passage_windows

    windows = passage_windows(load_dev())
    windows = (windows * (n // max(1, len(windows)) + 1))[:n]
    for tier in ("static", "minilm"):
        emb = get_embedder(tier, "cpu")
        emb.encode(windows[:8])
        k = n if tier == "static" else min(n, 64)
        t = time.perf_counter()
        emb.encode(windows[:k])
        dt = time.perf_counter() - t
        print(f"{tier:<7} {k / dt:8.1f} windows/s  (mean {sum(map(len, windows)) / n:.0f} chars)")


def web() -> None:
    from corpus_scan.detect.lexicon import load_lexicon
    from corpus_scan.detect.prefilter import Prefilter
    from corpus_scan.detect.scorer import load_scorer
    from corpus_scan.training.data import iter_web, web_half

    docs = list(iter_web())
    cands = Prefilter(load_lexicon(None), window=400).candidates([d["text"] for d in docs])
    sc = load_scorer("cascade", device="cpu")
    t = time.perf_counter()
    verdicts = sc.score([docs[c.index]["text"] for c in cands], cands)
    dt = time.perf_counter() - t
    flagged = [(c, v) for c, v in zip(cands, verdicts, strict=True) if v.score >= sc.threshold]
    print(f"docs={len(docs)} candidates={len(cands)} flagged={len(flagged)} "
          f"scored in {dt:.1f}s stats={getattr(sc, 'stats', {})}")
    for c, v in sorted(flagged, key=lambda cv: -cv[1].score):
        d = docs[c.index]
        best = max(v.passages, key=lambda p: p.score or 0.0)
        print(f"  {v.score:.3f} {v.stage:<6} half={web_half(d['id'])} {d['id']}: "
              f"{best.text[:200]!r}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--web", action="store_true")
    a = ap.parse_args()
    if a.speed:
        speed()
    elif a.web:
        web()
    else:
        cv()
