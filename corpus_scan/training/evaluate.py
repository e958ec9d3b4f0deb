"""Metrics: grouped cross-validation on dev.jsonl and evaluation of a scorer on a JSONL file.

`cross_validate` never trains and tests on the same excerpt (StratifiedGroupKFold over dev
groups); the extra sources are added to every training fold. Every fold re-fits both tiers,
their calibration, thresholds and the cascade band on the training fold only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedGroupKFold

from corpus_scan.detect.features import lexical_score
from corpus_scan.training.data import Example

LEXICAL_THRESHOLD = 0.5


@dataclass(slots=True)
class Metrics:
    name: str
    threshold: float
    precision: float
    recall: float
    f1: float
    pr_auc: float
    n: int
    n_pos: int
    per_subtype: dict[str, tuple[int, int]] = field(default_factory=dict)  # correct, total
    extra: dict[str, float] = field(default_factory=dict)

    def row(self) -> str:
        ex = " ".join(f"{k}={v:.3g}" for k, v in self.extra.items())
        return (f"{self.name:<10} thr={self.threshold:.3f} P={self.precision:.3f} "
                f"R={self.recall:.3f} F1={self.f1:.3f} PR-AUC={self.pr_auc:.3f} {ex}").rstrip()


@dataclass(slots=True)
class EvalReport:
    """What `corpus-scan eval` prints: the scorer and the keyword baseline on one file."""

    path: str
    scorer: Metrics
    baseline: Metrics
    n_candidates: int | None = None

    def table(self) -> str:
        return format_table([self.scorer, self.baseline])


def metrics(name: str, p: np.ndarray, y: np.ndarray, subtypes: Sequence[str], thr: float,
            **extra: float) -> Metrics:
    pred = p >= thr
    tp = int((pred & (y == 1)).sum())
    prec = tp / max(1, int(pred.sum()))
    rec = tp / max(1, int((y == 1).sum()))
    f1 = 2 * prec * rec / max(1e-9, prec + rec)
    ap = float(average_precision_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s, yy, pp in zip(subtypes, y, pred, strict=True):
        key = f"{int(yy)}:{s or '-'}"
        per[key][0] += int(bool(pp) == bool(yy))
        per[key][1] += 1
    return Metrics(name, thr, prec, rec, f1, ap, len(y), int(y.sum()),
                   {k: (v[0], v[1]) for k, v in sorted(per.items())}, dict(extra))


def format_table(rows: Sequence[Metrics]) -> str:
    lines = [r.row() for r in rows]
    keys = sorted({k for r in rows for k in r.per_subtype})
    lines.append("")
    lines.append("per-subtype correct/total (1:* = recall, 0:* = correctly rejected)")
    lines.append(f"{'subtype':<28}" + "".join(f"{r.name:>11}" for r in rows))
    for k in keys:
        cells = []
        for r in rows:
            c, t = r.per_subtype.get(k, (0, 0))
            cells.append(f"{c:>5}/{t:<5}")
        lines.append(f"{k:<28}" + "".join(cells))
    return "\n".join(lines)


def _cascade(p_s: np.ndarray, p_m: np.ndarray, band: tuple[float, float]
             ) -> tuple[np.ndarray, np.ndarray]:
    send = (p_s >= band[0]) & (p_s <= band[1])
    return np.where(send, p_m, p_s), send


def cross_validate(dev: Sequence[Example] | None = None, extra: Sequence[Example] | None = None,
                   n_splits: int = 5, seed: int = 0, device: str = "auto",
                   gate: bool = True) -> list[Metrics]:
    """Grouped CV on dev (extra sources in every training fold): cascade, minilm, static,
    lexical. Returns one Metrics per system (pooled out-of-fold predictions)."""
    from corpus_scan.training.data import load_dev, load_extra
    from corpus_scan.training.fit import featurize, train_head

    dev = list(dev) if dev is not None else load_dev()
    extra = list(extra) if extra is not None else load_extra()
    # warm the embedding caches once for everything
    for tier in ("static", "minilm"):
        featurize(list(dev) + list(extra), tier, device)
    y = np.asarray([e.label for e in dev])
    sub = [e.subtype for e in dev]
    p = {k: np.zeros(len(dev)) for k in ("static", "minilm", "cascade")}
    sent = np.zeros(len(dev), dtype=bool)
    thr = {k: [] for k in p}
    skf = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for tr, te in skf.split(np.zeros(len(y)), y, [e.group for e in dev]):
        head, _ = train_head([dev[i] for i in tr] + list(extra), device=device)
        test = [dev[i] for i in te]
        for tier in ("static", "minilm"):
            xs = featurize(test, tier, device)
            p[tier][te] = [head.tiers[tier].document(x)[0] for x in xs]
            thr[tier].append(head.threshold(tier))
        p["cascade"][te], sent[te] = _cascade(p["static"][te], p["minilm"][te], head.band)
        thr["cascade"].append(head.threshold("cascade"))
    lex = np.asarray([lexical_score(e.text) for e in dev])
    if gate:  # as in a scan: documents the prefilter drops score 0
        from corpus_scan.training.fit import prefilter_candidate

        cands = [prefilter_candidate(e.text) for e in dev]
        if any(c is not None for c in cands):
            keep = np.asarray([c is not None for c in cands])
            for k in p:
                p[k] = np.where(keep, p[k], 0.0)
            lex = np.asarray([c.lexical_score if c is not None else 0.0 for c in cands])
            sent &= keep
    out = []
    for k in ("cascade", "minilm", "static"):
        t = float(np.mean(thr[k]))  # report at the mean fold threshold (each fold chose its own)
        extra_m = {"sent_to_minilm": float(sent.mean())} if k == "cascade" else {}
        out.append(metrics(k, p[k], y, sub, t, **extra_m))
    out.append(metrics("lexical", lex, y, sub, LEXICAL_THRESHOLD))
    return out


def read_labeled(path: str | Path, text_field: str = "text", label_field: str = "label"
                 ) -> list[Example]:
    from corpus_scan.training.data import read_jsonl

    return read_jsonl(path, "eval", text_field=text_field, label_field=label_field)


def evaluate(path: str | Path, text_field: str = "text", label_field: str = "label",
             scorer: object | None = None, use_prefilter: bool = True) -> EvalReport:
    """Score a labelled JSONL file with `scorer` (default: the cascade) and the keyword
    baseline. With the prefilter available, non-candidates get score 0 (as in a scan)."""
    from corpus_scan.detect.scorer import LexicalScorer, load_scorer, score_texts

    ex = read_labeled(path, text_field, label_field)
    texts = [e.text for e in ex]
    y = np.asarray([e.label for e in ex])
    sub = [e.subtype for e in ex]
    sc = scorer if scorer is not None else load_scorer("cascade")
    p, n_cand = score_texts(sc, texts, use_prefilter=use_prefilter)
    lex = LexicalScorer()
    p_lex, _ = score_texts(lex, texts, use_prefilter=use_prefilter)
    return EvalReport(
        str(path),
        metrics(getattr(sc, "name", "scorer"), p, y, sub, float(sc.threshold)),  # type: ignore[attr-defined]
        metrics("lexical", p_lex, y, sub, lex.threshold),
        n_cand,
    )
