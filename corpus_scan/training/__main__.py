"""Rebuild the shipped head: `python -m corpus_scan.training [--out DIR] [--no-cv]`.

Runs grouped 5-fold CV on dev.jsonl first (its pooled metrics and the category/stance accuracy
go into head.json), then fits on everything (dev + training_data/ + narratives + web-jsonl)
and writes head.npz + head.json (default: corpus_scan/models/).
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    from corpus_scan.training.evaluate import cross_validate, format_table
    from corpus_scan.training.fit import train

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="output folder (default: the package models/)")
    ap.add_argument("--no-cv", action="store_true", help="skip cross-validation")
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    t = time.perf_counter()
    cv = None
    if not a.no_cv:
        aux: list = []
        rows = cross_validate(device=a.device, aux=aux)
        print(format_table(rows))
        print(aux[0].row())
        cv = {r.name: {"threshold": round(r.threshold, 4), "precision": round(r.precision, 4),
                       "recall": round(r.recall, 4), "f1": round(r.f1, 4),
                       "pr_auc": round(r.pr_auc, 4), "n": r.n, "n_pos": r.n_pos,
                       "extra": r.extra} for r in rows}
        cv["aux"] = {"category": list(aux[0].category), "stance": list(aux[0].stance)}
    out = train(a.out, device=a.device, cv_metrics=cv)
    print(f"wrote {out} in {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
