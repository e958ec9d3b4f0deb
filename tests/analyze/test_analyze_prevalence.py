"""Prevalence maths against textbook values (statsmodels' proportion_confint gives the same)."""

from __future__ import annotations

import math

import pytest

from corpus_scan.analyze.prevalence import (
    adjust,
    approx_tokens,
    check_rates,
    clopper_pearson,
    estimate,
    per_million_tokens,
    wilson,
)
from corpus_scan.documents import InputError


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.277533),
        (1, 10, 0.017876, 0.404150),
        (5, 100, 0.021543, 0.111750),
        (50, 100, 0.403832, 0.596168),
        (10, 10, 0.722467, 1.0),
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=1e-6)
    assert hi == pytest.approx(high, abs=1e-6)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.308497),  # 1 - 0.025 ** (1 / 10)
        (1, 10, 0.002529, 0.445016),
        (5, 100, 0.016432, 0.112835),
        (10, 10, 0.691503, 1.0),  # 0.025 ** (1 / 10)
    ],
)
def test_clopper_pearson_known_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = clopper_pearson(k, n)
    assert lo == pytest.approx(low, abs=1e-6)
    assert hi == pytest.approx(high, abs=1e-6)


def test_estimate_uses_exact_interval_near_the_boundaries() -> None:
    assert estimate(0, 1000).method == "clopper-pearson"
    assert estimate(4, 1000).method == "clopper-pearson"
    assert estimate(5, 1000).method == "wilson"
    assert estimate(996, 1000).method == "clopper-pearson"
    e = estimate(50, 100)
    assert (e.p, e.method) == (0.5, "wilson")
    assert e.per_million[0] == pytest.approx(500_000)
    assert e.low <= e.p <= e.high


def test_no_documents_gives_no_estimate() -> None:
    e = estimate(0, 0)
    assert e.method == "none" and math.isnan(e.p)
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        estimate(3, 2)


def test_per_million_tokens_scales_the_document_interval() -> None:
    e = estimate(10, 1000)
    tokens = approx_tokens(4_000_000)  # 1,000,000 tokens, i.e. 1,000 tokens per document
    assert tokens == 1_000_000
    p, lo, hi = per_million_tokens(e, tokens)
    assert p == pytest.approx(10.0)  # 10 flagged docs per million tokens
    assert lo == pytest.approx(e.low * 1000 * 1e6 / 1e6)
    assert hi == pytest.approx(e.high * 1000)
    assert all(math.isnan(x) for x in per_million_tokens(e, 0))


def test_adjusted_prevalence_scales_by_precision_over_recall() -> None:
    raw = estimate(50, 1000)
    a = adjust(raw, precision=0.8, recall=0.5)
    assert a.p == pytest.approx(0.05 * 1.6)
    assert (a.low, a.high) == pytest.approx((raw.low * 1.6, raw.high * 1.6))
    assert a.method == "scaled-raw-interval"
    d = adjust(raw, precision=0.8, recall=0.5, precision_n=100, recall_n=50)
    assert d.method == "delta-log" and d.p == pytest.approx(a.p)
    assert d.low < a.low and d.high > a.high  # eval uncertainty widens the interval
    assert adjust(estimate(900, 1000), 1.0, 0.5).p == 1.0  # capped


def test_rates_must_come_in_pairs_within_bounds() -> None:
    check_rates(None, None)
    with pytest.raises(InputError, match="both"):
        check_rates(0.9, None)
    with pytest.raises(InputError, match="precision"):
        check_rates(1.5, 0.5)
    with pytest.raises(InputError, match="recall"):
        check_rates(0.5, 0.0)
