"""Metrics: grouped cross-validation on dev.jsonl, bootstrap intervals, the web checks.

`cross_validate` never trains and tests on the same excerpt (StratifiedGroupKFold over dev
groups); the extra sources are added to every training fold. Every fold re-fits both tiers,
their calibration, thresholds and the cascade band on the training fold only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedGroupKFold

from corpus_scan.detect.features import lexical_score
from corpus_scan.training.data import Example

LEXICAL_THRESHOLD = 0.5
BOOTSTRAP_N = 2000


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
    n_flagged: int = 0

    def row(self) -> str:
        ex = " ".join(f"{k}={v:.3g}" for k, v in self.extra.items())
        if self.n_pos == 0:  # precision, recall and F1 of a file without positives mean nothing
            return (f"{self.name:<10} thr={self.threshold:.3f} flagged {self.n_flagged} of "
                    f"{self.n} (false-positive rate {self.n_flagged / max(1, self.n):.3f}; "
                    f"no positives: P, R, F1 undefined) {ex}").rstrip()
        return (f"{self.name:<10} thr={self.threshold:.3f} P={self.precision:.3f} "
                f"R={self.recall:.3f} F1={self.f1:.3f} PR-AUC={self.pr_auc:.3f} {ex}").rstrip()


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
                   {k: (v[0], v[1]) for k, v in sorted(per.items())}, dict(extra),
                   int(pred.sum()))


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


@dataclass(slots=True)
class AuxAccuracy:
    """Out-of-fold accuracy of the category and stance heads (deciding tier of the cascade)."""

    category: tuple[int, int]  # correct, total (dev positives, their subtype)
    stance: tuple[int, int]  # correct, total (positives = resists, ai_accepts_shutdown = accepts)
    category_confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    # `accepts` (what --upsample-accepting copies): right, true accepts, predicted on all of dev
    accepts: tuple[int, int, int] = (0, 0, 0)

    def row(self) -> str:
        c, s, a = self.category, self.stance, self.accepts
        return (f"category accuracy {c[0]}/{c[1]} = {c[0] / max(1, c[1]):.3f}   "
                f"stance accuracy {s[0]}/{s[1]} = {s[0] / max(1, s[1]):.3f}   "
                f"accepts recall {a[0]}/{a[1]}, precision {a[0]}/{a[2]}")


def _aux(dev: Sequence[Example], cat: list[str], stance: list[str]) -> AuxAccuracy:
    conf: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    c_ok = c_n = s_ok = s_n = 0
    accepts = [0, 0, 0]
    for e, c, st in zip(dev, cat, stance, strict=True):
        truth = e.label == 0 and e.stance == "accepts"
        accepts[0] += truth and st == "accepts"
        accepts[1] += truth
        accepts[2] += st == "accepts"
        if e.label == 1 and e.category:
            c_n += 1
            c_ok += c == e.category
            conf[e.category][c] += 1
        want = "resists" if e.label == 1 else ("accepts" if e.stance == "accepts" else None)
        if want:
            s_n += 1
            s_ok += st == want
    return AuxAccuracy((c_ok, c_n), (s_ok, s_n), {k: dict(v) for k, v in conf.items()},
                       (accepts[0], accepts[1], accepts[2]))


def cross_validate(dev: Sequence[Example] | None = None, extra: Sequence[Example] | None = None,
                   n_splits: int = 5, seed: int = 0, device: str = "auto",
                   gate: bool = True, aux: list | None = None,
                   oof: dict | None = None) -> list[Metrics]:
    """Grouped CV on dev (extra sources in every training fold): cascade, minilm, static,
    lexical. Returns one Metrics per system (pooled out-of-fold predictions). The cascade
    re-scores in-band documents with MiniLM on their best `minilm_passages` static passages,
    as the scorer does. When `aux` is a list, an `AuxAccuracy` is appended to it; when `oof` is
    a dict, it receives the pooled out-of-fold scores (`y`, `groups`, one array per system)."""
    from corpus_scan.training.data import load_dev, load_extra
    from corpus_scan.training.fit import featurize, top_rows, train_head

    dev = list(dev) if dev is not None else load_dev()
    extra = list(extra) if extra is not None else load_extra()
    # warm the embedding caches once for everything
    for tier in ("static", "minilm"):
        featurize(list(dev) + list(extra), tier, device)
    y = np.asarray([e.label for e in dev])
    sub = [e.subtype for e in dev]
    p = {k: np.zeros(len(dev)) for k in ("static", "minilm", "cascade")}
    sent = np.zeros(len(dev), dtype=bool)
    thr: dict[str, list[float]] = {k: [] for k in p}
    cat = ["other"] * len(dev)
    stance = ["unclear"] * len(dev)
    skf = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for tr, te in skf.split(np.zeros(len(y)), y, [e.group for e in dev]):
        head, _ = train_head([dev[i] for i in tr] + list(extra), device=device)
        test = [dev[i] for i in te]
        xs = {t: featurize(test, t, device) for t in ("static", "minilm")}
        hs, hm = head.tiers["static"], head.tiers["minilm"]
        out_s = [hs.document(x) for x in xs["static"]]
        out_m = [hm.document(x) for x in xs["minilm"]]
        out_c = [hm.document(xm[top_rows(hs, xstat, head.minilm_passages)])
                 for xstat, xm in zip(xs["static"], xs["minilm"], strict=True)]
        p["static"][te] = [o[0] for o in out_s]
        p["minilm"][te] = [o[0] for o in out_m]
        p["cascade"][te], sent[te] = _cascade(p["static"][te],
                                              np.asarray([o[0] for o in out_c]), head.band)
        for j, i in enumerate(te):
            o = out_c[j] if sent[i] else out_s[j]
            cat[i], stance[i] = o[1], o[2]
        for k in p:
            thr[k].append(head.threshold(k))
    if aux is not None:
        aux.append(_aux(dev, cat, stance))
    lex = np.asarray([lexical_score(e.text) for e in dev])
    if gate:  # as in a scan: documents the prefilter drops score 0
        from corpus_scan.training.data import prefilter_candidate

        cands = [prefilter_candidate(e.text) for e in dev]
        if any(c is not None for c in cands):
            keep = np.asarray([c is not None for c in cands])
            for k in p:
                p[k] = np.where(keep, p[k], 0.0)
            lex = np.asarray([c.lexical_score if c is not None else 0.0 for c in cands])
            sent &= keep
    if oof is not None:
        oof.update(y=y, groups=[e.group for e in dev], lexical=lex, **p)
    out = []
    for k in ("cascade", "minilm", "static"):
        t = float(np.mean(thr[k]))  # report at the mean fold threshold (each fold chose its own)
        extra_m = {"sent_to_minilm": float(sent.mean())} if k == "cascade" else {}
        out.append(metrics(k, p[k], y, sub, t, **extra_m))
    out.append(metrics("lexical", lex, y, sub, LEXICAL_THRESHOLD))
    return out


def bootstrap_interval(p: np.ndarray, y: np.ndarray, thr: float, groups: Sequence[str],
                       n: int = BOOTSTRAP_N, seed: int = 0, level: float = 0.95
                       ) -> dict[str, tuple[float, float]]:
    """Percentile intervals of precision, recall and F1 at `thr`, resampling dev groups (the
    CV's unit) with replacement: how far a held-out set like dev may land from the CV figure."""
    rng = np.random.default_rng(seed)
    keys = sorted(set(groups))
    index = {g: i for i, g in enumerate(keys)}
    g = np.asarray([index[x] for x in groups])
    pred = p >= thr
    tp = np.bincount(g, pred & (y == 1), len(keys))
    fp = np.bincount(g, pred & (y == 0), len(keys))
    pos = np.bincount(g, y == 1, len(keys))
    counts = rng.multinomial(len(keys), np.full(len(keys), 1 / len(keys)), size=n)
    t, f, a = counts @ tp, counts @ fp, counts @ pos
    prec = t / np.maximum(t + f, 1)
    rec = t / np.maximum(a, 1)
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-9)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    return {k: tuple(float(v) for v in np.percentile(x, q))
            for k, x in (("precision", prec), ("recall", rec), ("f1", f1))}


@dataclass(slots=True)
class RepeatedCV:
    """`cross_validate` over several fold splits (seeds): the spread a single split hides.

    `runs[system]` holds one (precision, recall, f1, pr_auc) row per seed; `subsets` one
    cascade F1 per seed on each subset of dev (unambiguous / ambiguous items); `first` the
    full Metrics of the first seed's split."""

    seeds: list[int]
    runs: dict[str, np.ndarray]
    subsets: dict[str, np.ndarray]
    first: list[Metrics]

    def table(self) -> str:
        lines = [f"mean (sd) over {len(self.seeds)} fold splits, seeds {self.seeds}:",
                 f"{'system':<10} {'P':>13} {'R':>13} {'F1':>13} {'PR-AUC':>13}  F1 min-max"]
        for name, a in self.runs.items():
            cells = " ".join(f"{m:.3f} ({s:.3f})" for m, s in zip(a.mean(0), a.std(0), strict=True))
            lines.append(f"{name:<10} {cells}  {a[:, 2].min():.3f}-{a[:, 2].max():.3f}")
        for name, f in self.subsets.items():
            lines.append(f"cascade F1 on {name}: {f.mean():.3f} ({f.std():.3f})")
        return "\n".join(lines)

    def summary(self) -> dict:
        """JSON-ready figures (what head.json `cv` records): per system the mean, sd and range
        over the splits, the cascade F1 per dev subset, and the first split's thresholds."""
        keys = ("precision", "recall", "f1", "pr_auc")
        systems = {
            name: {**{k: round(float(m), 4) for k, m in zip(keys, a.mean(0), strict=True)},
                   **{f"{k}_sd": round(float(d), 4) for k, d in zip(keys, a.std(0), strict=True)},
                   "f1_range": [round(float(a[:, 2].min()), 4), round(float(a[:, 2].max()), 4)]}
            for name, a in self.runs.items()
        }
        for r in self.first:
            systems[r.name]["threshold_split0"] = round(r.threshold, 4)
        return {"grouped_folds": 5, "seeds": list(self.seeds), "n": self.first[0].n,
                "n_pos": self.first[0].n_pos, "systems": systems,
                "cascade_f1_by_subset": {k: round(float(v.mean()), 4)
                                         for k, v in self.subsets.items()}}


def repeated_cv(seeds: Sequence[int] = range(5), dev: Sequence[Example] | None = None,
                extra: Sequence[Example] | None = None, device: str = "auto",
                aux: list | None = None, oof: dict | None = None, n_splits: int = 5
                ) -> RepeatedCV:
    """Grouped CV repeated over fold splits. One split's F1 moves by about +-0.01 with the
    seed alone, and choices tuned on one split flatter it: quote the mean, not seed 0.
    `aux` and `oof` receive the first split's extras, as in `cross_validate`; `n_splits`
    other than 5 gives a learning curve (each head sees 1 - 1/n_splits of dev)."""
    from corpus_scan.training.data import load_dev, load_extra

    dev = list(dev) if dev is not None else load_dev()
    extra = list(extra) if extra is not None else load_extra()
    amb = np.asarray([bool(e.extra.get("ambiguous")) for e in dev])
    runs: dict[str, list] = defaultdict(list)
    subsets: dict[str, list] = defaultdict(list)
    first: list[Metrics] = []
    for i, seed in enumerate(seeds):
        scores: dict = oof if (i == 0 and oof is not None) else {}
        rows = cross_validate(dev, extra, n_splits=n_splits, seed=seed, device=device,
                              oof=scores, aux=aux if i == 0 else None)
        first = first or rows
        for r in rows:
            runs[r.name].append((r.precision, r.recall, r.f1, r.pr_auc))
        p, y = scores["cascade"], scores["y"]
        for name, mask in (("unambiguous items", ~amb), ("ambiguous items", amb)):
            if mask.any():
                f1 = metrics(name, p[mask], y[mask], [""] * int(mask.sum()), rows[0].threshold).f1
                subsets[f"{name} ({int(mask.sum())})"].append(f1)
    return RepeatedCV(list(seeds), {k: np.asarray(v) for k, v in runs.items()},
                      {k: np.asarray(v) for k, v in subsets.items()}, first)


@dataclass(slots=True)
class WebFlag:
    id: str
    half: int
    score: float
    stage: str
    passage: str


def web_check(heads: dict[int, object] | None = None, device: str = "cpu"
              ) -> tuple[int, int, list[WebFlag], dict]:
    """Natural-balance check on shared/corpora/web-jsonl: prefilter, then score candidates.

    `heads` maps a web half to the head that scores that half's candidates; None = the shipped
    head for everything. Cross-fitting passes {0: head trained without half 0, 1: ...}.
    Returns (n_docs, n_candidates, flagged, scorer stats)."""
    from corpus_scan.detect.lexicon import load_lexicon
    from corpus_scan.detect.prefilter import Prefilter
    from corpus_scan.detect.scorer import CascadeScorer
    from corpus_scan.training.data import iter_web, web_half

    docs = list(iter_web())
    cands = Prefilter(load_lexicon(None), window=400).candidates([d["text"] for d in docs])
    flags: list[WebFlag] = []
    stats: dict[str, float] = defaultdict(float)
    for half in (0, 1):
        mine = [c for c in cands if web_half(docs[c.index]["id"]) == half]
        head = (heads or {}).get(half)
        sc = CascadeScorer("cascade", device=device, head=head)  # type: ignore[arg-type]
        vs = sc.score([docs[c.index]["text"] for c in mine], mine)
        for k, v in sc.stats.items():
            stats[k] += v
        for c, v in zip(mine, vs, strict=True):
            if v.score >= sc.threshold:
                best = max(v.passages, key=lambda q: q.score or 0.0)
                flags.append(WebFlag(docs[c.index]["id"], half, v.score, v.stage, best.text))
    stats["minilm_share"] = stats["minilm_docs"] / max(1.0, stats["docs"])
    return len(docs), len(cands), sorted(flags, key=lambda f: -f.score), dict(stats)


def web_crossfit(device: str = "cpu") -> tuple[int, int, list[WebFlag], dict]:
    """`web_check` where each half's candidates are scored by a head trained on dev, our own
    data and the OTHER half of web-jsonl only (an honest natural-balance estimate)."""
    from corpus_scan.training.data import load_dev, load_extra
    from corpus_scan.training.fit import train_head

    dev = load_dev()
    heads = {}
    for half in (0, 1):
        head, _ = train_head(dev + load_extra(web_halves=(1 - half,)), device=device)
        heads[half] = head
    return web_check(heads, device)
