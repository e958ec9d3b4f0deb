"""How far could a better classifier on the frozen MiniLM passage vectors go?

The shipped MiniLM tier is a logistic regression on [MiniLM vector, lexical features] per
passage, a document scoring its best passage. This script refits that tier and two non-linear
classifiers (RBF SVM, a one-hidden-layer MLP) on exactly the same passage matrices, under the
same grouped 5-fold CV on dev.jsonl (extra sources in every training fold), repeated over
several fold splits, and prints PR-AUC and the *best-threshold* F1 of each: the threshold is
picked on the test scores themselves, so that F1 is a ceiling for the classifier, not an
estimate. If every classifier's ceiling sits at the same F1, the limit is the representation
(frozen MiniLM on these passages), not the head.

    HF_HUB_OFFLINE=1 python benchmarks/head_ceiling.py --seeds 4
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np


def _classifiers() -> dict[str, Callable[[], object]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    from corpus_scan.training.fit import C_NARRATIVE

    return {
        f"logreg C={C_NARRATIVE}": lambda: LogisticRegression(
            C=C_NARRATIVE, max_iter=5000, class_weight="balanced"),
        "svm rbf C=3": lambda: SVC(C=3.0, kernel="rbf", class_weight="balanced"),
        "mlp 64": lambda: MLPClassifier((64,), alpha=1.0, max_iter=500, random_state=0),
    }


def best_f1(p: np.ndarray, y: np.ndarray) -> float:
    """F1 at the best threshold on these very scores (an upper bound, not an estimate)."""
    return max(2 * float(((p >= t) & (y == 1)).sum()) / float((p >= t).sum() + y.sum())
               for t in np.unique(p))


def _fit_score(make: Callable[[], object], xs: list[np.ndarray], ex: list,
               test: list[np.ndarray]) -> np.ndarray:
    from sklearn.preprocessing import StandardScaler

    from corpus_scan.training.fit import SOURCE_WEIGHT

    x = np.vstack(xs)
    y = np.concatenate([[e.label] * len(m) for e, m in zip(ex, xs, strict=True)])
    w = np.concatenate([[SOURCE_WEIGHT.get(e.source, 1.0) / len(m)] * len(m)
                        for e, m in zip(ex, xs, strict=True)])
    scale = StandardScaler().fit(x)
    model = make()
    if hasattr(model, "hidden_layer_sizes"):  # MLPClassifier takes no sample weights
        model.fit(scale.transform(x), y)  # type: ignore[attr-defined]

        def score(z: np.ndarray) -> np.ndarray:
            return model.predict_proba(z)[:, 1]  # type: ignore[attr-defined]
    else:
        model.fit(scale.transform(x), y, sample_weight=w * len(w) / w.sum())  # type: ignore
        score = model.decision_function  # type: ignore[attr-defined]
    return np.asarray([score(scale.transform(m)).max() if len(m) else -np.inf for m in test])


def main(seeds: int) -> None:
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedGroupKFold

    from corpus_scan.training.data import load_dev, load_extra, prefilter_candidate
    from corpus_scan.training.fit import featurize

    t0 = time.perf_counter()
    dev, extra = load_dev(), load_extra()
    xs = featurize(dev + extra, "minilm", "cpu")
    xd, xe = xs[: len(dev)], xs[len(dev):]
    y = np.asarray([e.label for e in dev])
    keep = np.asarray([prefilter_candidate(e.text) is not None for e in dev])
    makers = _classifiers()
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in makers}
    for seed in range(seeds):
        scores = {k: np.zeros(len(dev)) for k in makers}
        split = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
        for tr, te in split.split(np.zeros(len(y)), y, [e.group for e in dev]):
            ex = [dev[i] for i in tr] + extra
            train = [xd[i] for i in tr] + xe
            for name, make in makers.items():
                scores[name][te] = _fit_score(make, train, ex, [xd[i] for i in te])
        for name, s in scores.items():
            s = np.where(keep, s, -np.inf)  # as in a scan: non-candidates are never hits
            s = np.where(np.isfinite(s), s, s[np.isfinite(s)].min() - 1)
            rows[name].append((float(average_precision_score(y, s)), best_f1(s, y)))
        print(f"split {seed}: " + "  ".join(f"{k} {v[-1][1]:.3f}" for k, v in rows.items()),
              flush=True)
    print(f"\nMiniLM tier, {seeds} fold split(s) of dev (mean (sd)):")
    print(f"{'classifier':<16} {'PR-AUC':>14} {'best-threshold F1':>20}")
    for name, v in rows.items():
        a = np.asarray(v)
        print(f"{name:<16} {a[:, 0].mean():.3f} ({a[:, 0].std():.3f})"
              f"   {a[:, 1].mean():.3f} ({a[:, 1].std():.3f})")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4, help="fold splits (default 4)")
    main(ap.parse_args().seeds)
