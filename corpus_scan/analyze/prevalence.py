"""Prevalence maths: binomial intervals, per-million rates, and the precision/recall adjustment.

Conventions (all stated again in every report):
- 95% Wilson score interval; exact Clopper-Pearson when the count is near a boundary
  (k < 5 or n - k < 5), where Wilson's normal approximation is poorest.
- Per million tokens = per-document prevalence x (documents / approximate tokens), the tokens
  being characters / 4; the interval is the document interval scaled the same way (token counts
  per document are taken as known).
- Adjusted classify-and-count: p_true = p_obs * precision / recall. Without the sizes of the
  evaluation samples the interval is the raw interval scaled by precision / recall (precision
  and recall taken as exact, so it understates uncertainty); with them, a delta-method interval
  on the log scale that adds the variance of log precision and log recall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import beta, norm

from corpus_scan.documents import InputError

CONFIDENCE = 0.95
EXACT_BELOW = 5  # use Clopper-Pearson when k or n - k is below this
CHARS_PER_TOKEN = 4
MILLION = 1_000_000


@dataclass(frozen=True)
class Estimate:
    """k of n, with a two-sided interval for the proportion."""

    k: int
    n: int
    p: float  # nan when n == 0
    low: float
    high: float
    method: str  # wilson | clopper-pearson | none

    @property
    def per_million(self) -> tuple[float, float, float]:
        return (self.p * MILLION, self.low * MILLION, self.high * MILLION)


@dataclass(frozen=True)
class Adjusted:
    """A prevalence corrected for detector precision and recall, beside the raw one."""

    raw: Estimate
    precision: float
    recall: float
    p: float
    low: float
    high: float
    method: str


def _z(confidence: float) -> float:
    return float(norm.ppf(0.5 + confidence / 2))


def _check(k: int, n: int) -> None:
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials."""
    _check(k, n)
    if n == 0:
        return (0.0, 1.0)
    z = _z(confidence)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval from beta quantiles."""
    _check(k, n)
    if n == 0:
        return (0.0, 1.0)
    alpha = 1 - confidence
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return (low, high)


def estimate(k: int, n: int, confidence: float = CONFIDENCE) -> Estimate:
    """Proportion k/n with Wilson's interval, or Clopper-Pearson near 0 or n."""
    k, n = int(k or 0), int(n or 0)
    _check(k, n)
    if n == 0:
        return Estimate(k, n, math.nan, math.nan, math.nan, "none")
    if k < EXACT_BELOW or n - k < EXACT_BELOW:
        low, high = clopper_pearson(k, n, confidence)
        return Estimate(k, n, k / n, low, high, "clopper-pearson")
    low, high = wilson(k, n, confidence)
    return Estimate(k, n, k / n, low, high, "wilson")


def approx_tokens(n_chars: int) -> int:
    """Approximate tokens from characters (chars / 4), the same rounding the SQL uses."""
    return int(n_chars or 0) // CHARS_PER_TOKEN


def per_million_tokens(est: Estimate, n_tokens: int) -> tuple[float, float, float]:
    """Flagged documents per million tokens, with the document interval scaled alike."""
    if not n_tokens or est.n == 0:
        return (math.nan, math.nan, math.nan)
    scale = est.n / n_tokens * MILLION
    return (est.p * scale, est.low * scale, est.high * scale)


def check_rates(precision: float | None, recall: float | None) -> None:
    """Raise InputError unless both or neither of precision and recall are given, in (0, 1]."""
    if (precision is None) != (recall is None):
        raise InputError("give both --precision and --recall (from `corpus-scan eval`), or neither")
    for name, value in (("precision", precision), ("recall", recall)):
        if value is not None and not (0 < value <= 1):
            raise InputError(f"--{name} must be in (0, 1], got {value}")


def check_sample_sizes(precision: float | None, precision_n: int | None,
                       recall_n: int | None) -> None:
    """Raise InputError unless the evaluation sample sizes come both or neither, are
    positive, and come with the rates they qualify (half a pair would be ignored silently)."""
    if (precision_n is None) != (recall_n is None):
        raise InputError("give both --precision-n and --recall-n, or neither")
    if precision_n is None:
        return
    if precision is None:
        raise InputError("--precision-n and --recall-n need --precision and --recall")
    for name, value in (("precision-n", precision_n), ("recall-n", recall_n)):
        if value is None or value < 1:
            raise InputError(f"--{name} must be a count of at least 1, got {value}")


def adjust(
    raw: Estimate,
    precision: float,
    recall: float,
    *,
    precision_n: int | None = None,
    recall_n: int | None = None,
    confidence: float = CONFIDENCE,
) -> Adjusted:
    """Adjusted classify-and-count, p_true = p_obs * precision / recall (capped at 1).

    `precision_n`: flagged documents the precision was measured on; `recall_n`: true positives
    the recall was measured on. With both (and k > 0) the interval is a delta-method interval on
    the log scale; otherwise the raw interval scaled by precision / recall.
    """
    check_rates(precision, recall)
    factor = precision / recall
    if raw.n == 0:
        return Adjusted(raw, precision, recall, math.nan, math.nan, math.nan, "none")
    p = min(1.0, raw.p * factor)
    if precision_n and recall_n and raw.k > 0:
        var = (1 - raw.p) / raw.k
        var += (1 - precision) / (precision * precision_n)
        var += (1 - recall) / (recall * recall_n)
        half = _z(confidence) * math.sqrt(var)
        low = min(1.0, raw.p * factor * math.exp(-half))
        high = min(1.0, raw.p * factor * math.exp(half))
        return Adjusted(raw, precision, recall, p, low, high, "delta-log")
    low, high = min(1.0, raw.low * factor), min(1.0, raw.high * factor)
    return Adjusted(raw, precision, recall, p, low, high, "scaled-raw-interval")


METHOD_NOTES = {
    "wilson": "95% Wilson score interval",
    "clopper-pearson": "95% exact Clopper-Pearson interval (few hits, or few non-hits)",
    "none": "no documents: no estimate",
    "scaled-raw-interval": (
        "raw interval x precision / recall (precision and recall taken as exact: "
        "this understates the uncertainty)"
    ),
    "delta-log": "delta method on the log scale, including the evaluation sample sizes",
}

# Why a report without --precision/--recall stays uncorrected, and how to correct it. Figures
# measured on balanced labelled excerpts overstate precision on a corpus at natural balance,
# where almost every flag competes with thousands of negatives: measure on the corpus itself.
UNADJUSTED_NOTE = (
    "No adjusted estimate: these are flagged counts, not corrected for the detector's errors. "
    "To correct them (p_true = p_obs x precision / recall), pass --precision and --recall, with "
    "--precision-n and --recall-n, best measured by labelling documents of this corpus "
    "(audit.csv samples them across score bands): the figures measured on balanced labelled "
    "excerpts (README model card) overstate precision at natural balance."
)
