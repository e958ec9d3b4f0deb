"""Is a score of 0.7 right about 7 times in 10? Reliability bins, Brier score and expected
calibration error (ECE) of document scores against labels.

The head's scores are Platt-calibrated on the curated training mix (about 4 in 10 documents
positive, like dev). A calibrated score there is not a probability at natural balance, where
positives are ~1 in several thousand: this measures calibration on a labelled file like the one
given, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True, frozen=True)
class CalibrationBin:
    lo: float
    hi: float
    n: int
    mean_score: float  # NaN for an empty bin
    positive_rate: float  # NaN for an empty bin


@dataclass(slots=True)
class Calibration:
    bins: list[CalibrationBin]
    brier: float  # mean squared error of the scores against the 0/1 labels
    ece: float  # sum over bins of (bin share) x |mean score - positive rate|
    n: int

    def table(self, name: str = "scores") -> str:
        lines = [f"calibration of {name} ({self.n} documents): Brier {self.brier:.3f}, "
                 f"expected calibration error {self.ece:.3f}",
                 f"  {'score bin':<12}{'docs':>6}{'mean score':>12}{'positive rate':>15}"]
        for b in self.bins:
            close = "]" if b.hi >= 1.0 else ")"
            label = f"[{_edge(b.lo)}, {_edge(b.hi)}{close}"
            if b.n:
                lines.append(f"  {label:<12}{b.n:>6}{b.mean_score:>12.3f}{b.positive_rate:>15.3f}")
            else:
                lines.append(f"  {label:<12}{0:>6}{'-':>12}{'-':>15}")
        return "\n".join(lines)


def _edge(x: float) -> str:
    """0.2 as "0.2"; an edge that one decimal would misstate (n_bins=3, 4, ...) with three."""
    return f"{x:.1f}" if abs(x * 10 - round(x * 10)) < 1e-9 else f"{x:.3f}"


def calibration(p: np.ndarray, y: np.ndarray, n_bins: int = 5) -> Calibration:
    """Equal-width score bins over [0, 1] (the last one closed), Brier score and ECE."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError(f"scores {p.shape} and labels {y.shape} must be 1-d and of one length")
    if len(p) == 0:
        raise ValueError("no documents to measure calibration on")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, not {n_bins}")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("scores must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.minimum(np.searchsorted(edges, p, side="right") - 1, n_bins - 1)
    bins, ece = [], 0.0
    for k in range(n_bins):
        m = which == k
        n = int(m.sum())
        if n:
            mean, rate = float(p[m].mean()), float(y[m].mean())
            ece += n / len(p) * abs(mean - rate)
        else:
            mean = rate = float("nan")
        bins.append(CalibrationBin(float(edges[k]), float(edges[k + 1]), n, mean, rate))
    return Calibration(bins, float(np.mean((p - y) ** 2)), float(ece), len(p))
