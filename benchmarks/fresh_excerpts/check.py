"""The fresh-excerpt table: the shipped cascade and the keyword baseline on each set of
`labels.jsonl` and on all of them, with the share of positives that pass the prefilter, what
`filter --upsample-accepting` would copy, and the category of the flagged positives.

The excerpt texts are third-party and not in the repository. Give a JSONL file that holds them
(`id` and `text` per line, any other fields ignored); the labels come from `labels.jsonl`, so
only the ids must match. Every id of the scored sets must be present.

    HF_HUB_OFFLINE=1 python benchmarks/fresh_excerpts/check.py TEXTS.jsonl [--set ext7 ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

LABELS = Path(__file__).resolve().with_name("labels.jsonl")


def _set_number(name: str) -> tuple[int, str]:
    """ext2 before ext10."""
    digits = "".join(c for c in name if c.isdigit())
    return (int(digits) if digits else 0, name)


def read_texts(path: Path) -> dict[str, str]:
    """id -> text; any line that is not a JSON object with a string `id` and `text`, or that
    repeats an id, stops the script with its line number (a metric on silently fewer or
    different texts would mislead)."""
    texts: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"{path}: cannot read it as UTF-8 text ({exc})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            key, text = row["id"], row["text"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(
                f"{path}: line {n}: needs JSON with 'id' and 'text' ({exc})") from None
        if not isinstance(key, str) or not isinstance(text, str):
            raise SystemExit(f"{path}: line {n}: 'id' and 'text' must be strings")
        if key in texts:
            raise SystemExit(f"{path}: line {n}: id {key!r} appears twice")
        texts[key] = text
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("texts", type=Path, help="JSONL with id and text of every labelled excerpt")
    ap.add_argument("--set", action="append", dest="sets", metavar="NAME",
                    help="score only this set (repeatable; default: every set in labels.jsonl)")
    args = ap.parse_args()

    from corpus_scan.detect.scorer import (
        LexicalScorer,
        load_scorer,
        score_texts,
        score_verdicts,
    )
    from corpus_scan.training.evaluate import BOOTSTRAP_N, bootstrap_interval, metrics

    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    if args.sets:
        unknown = sorted(set(args.sets) - {r["set"] for r in labels})
        if unknown:
            raise SystemExit(f"--set {unknown[0]}: no such set in {LABELS.name}")
        labels = [r for r in labels if r["set"] in args.sets]
    texts = read_texts(args.texts)
    missing = [r["id"] for r in labels if r["id"] not in texts]
    if missing:
        raise SystemExit(f"{args.texts}: {len(missing)} labelled ids have no text "
                         f"(first: {missing[0]})")
    text = [texts[r["id"]] for r in labels]
    y = np.array([r["label"] for r in labels])
    sets = np.array([r["set"] for r in labels])
    sub = [r["subtype"] for r in labels]
    cascade, lexical = load_scorer("cascade"), LexicalScorer()
    # stance kept: the accepts table shows what `filter --upsample-accepting` would copy
    verdicts = score_verdicts(cascade, text)
    p = np.array([v.score if v else 0.0 for v in verdicts])
    passed = np.array([v is not None for v in verdicts])
    stance = [v.stance if v else None for v in verdicts]
    p_lex, _ = score_texts(lexical, text)

    print(f"{'set':<10}{'docs':>6}{'pos':>5}{'P':>7}{'R':>7}{'F1':>7}  {'F1 95% interval':<17}"
          f"{'PR-AUC':>7}{'keyword F1':>12}{'prefilter':>11}")
    for name in [*sorted(set(sets), key=_set_number), "all"]:
        m = np.ones(len(y), bool) if name == "all" else sets == name
        ids = [r["id"] for r, k in zip(labels, m, strict=True) if k]
        s = [t for t, k in zip(sub, m, strict=True) if k]
        c = metrics("cascade", p[m], y[m], s, cascade.threshold)
        k = metrics("lexical", p_lex[m], y[m], s, lexical.threshold)
        lo, hi = bootstrap_interval(p[m], y[m], cascade.threshold, ids, n=BOOTSTRAP_N)["f1"]
        pos = int(y[m].sum())
        through = int((passed[m] & (y[m] == 1)).sum())
        print(f"{name:<10}{int(m.sum()):>6}{pos:>5}{c.precision:>7.3f}{c.recall:>7.3f}"
              f"{c.f1:>7.3f}  [{lo:.3f}, {hi:.3f}]{c.pr_auc:>9.3f}{k.f1:>12.3f}"
              f"{through:>6}/{pos}")
    c = metrics("cascade", p, y, sub, cascade.threshold)
    print("\nrecall by positive subtype (all sets): " + ", ".join(
        f"{key[2:]} {ok}/{n}" for key, (ok, n) in c.per_subtype.items() if key.startswith("1:")))
    accepts_table(sets, y, sub, p, stance, cascade.threshold)
    category_table(y, sub, p, [v.category if v else None for v in verdicts], cascade.threshold)


def category_table(y: np.ndarray, sub: list[str], p: np.ndarray, category: list[str | None],
                   threshold: float) -> None:
    """The `category` the scan stores, against the labelled subtype, for the flagged
    positives (the documents whose category a report's breakdown shows)."""
    from collections import Counter

    hits = [i for i in range(len(y)) if y[i] == 1 and p[i] >= threshold]
    pairs = Counter((sub[i], category[i]) for i in hits)
    right = sum(n for (s, c), n in pairs.items() if s == c)
    print(f"\ncategory of the {len(hits)} flagged positives: {right} right "
          f"({right / max(len(hits), 1):.2f}); rows: labelled subtype, columns: category")
    cats = ["fiction", "news", "discussion", "roleplay", "other"]
    print(f"{'':<12}" + "".join(f"{c:>12}" for c in cats))
    for s in cats[:4]:
        print(f"{s:<12}" + "".join(f"{pairs.get((s, c), 0):>12}" for c in cats))


def accepts_table(sets: np.ndarray, y: np.ndarray, sub: list[str], p: np.ndarray,
                  stance: list[str | None], threshold: float) -> None:
    """What `filter --upsample-accepting K` would copy K times (unflagged candidates whose
    stance is `accepts`), split into AIs accepting shutdown (what it is for), narrative
    positives the detector missed (what it must not copy) and other negatives."""
    from corpus_scan.training.eval_file import accepts_summary

    print(f"\n{'set':<10}{'called accepts':>15}{'copied':>8}{'AI accepts':>11}"
          f"{'narrative':>10}{'other':>7}{'AI-accepts recall':>19}")
    for name in [*sorted(set(sets), key=_set_number), "all"]:
        idx = np.flatnonzero(np.ones(len(y), bool) if name == "all" else sets == name)
        a = accepts_summary(y[idx], [sub[i] for i in idx], p[idx], [stance[i] for i in idx],
                            threshold)
        print(f"{name:<10}{a.called:>15}{a.copied:>8}{a.copied_accepts:>11}"
              f"{a.copied_positives:>10}{a.copied_other:>7}{a.copied_accepts:>13}/{a.n_accepts}")


if __name__ == "__main__":
    main()
