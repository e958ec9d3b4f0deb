"""Reliability bins, Brier score and ECE on scores whose calibration is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from corpus_scan.training.calibration import calibration


def test_calibrated_scores_have_a_small_error_and_overconfident_ones_a_large_one() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 20_000)
    y = (rng.uniform(0, 1, p.size) < p).astype(int)  # a score of p is right p of the time
    good = calibration(p, y)
    assert good.ece < 0.02
    assert good.brier == pytest.approx(1 / 6, abs=0.01)  # E[p(1-p)] for p ~ U(0, 1)
    for b in good.bins:
        assert b.positive_rate == pytest.approx(b.mean_score, abs=0.03)
    sharp = calibration(np.where(p >= 0.5, 0.99, 0.01), y)  # the same ranking, overconfident
    assert sharp.ece > 0.2 and sharp.brier > good.brier


def test_bins_hold_every_document_once_and_the_last_bin_is_closed() -> None:
    p = np.asarray([0.0, 0.19, 0.2, 0.5, 0.99, 1.0])
    y = np.asarray([0, 0, 1, 1, 1, 1])
    cal = calibration(p, y, n_bins=5)
    assert [b.n for b in cal.bins] == [2, 1, 1, 0, 2]
    assert cal.bins[4].mean_score == pytest.approx(0.995) and cal.bins[4].positive_rate == 1.0
    assert math.isnan(cal.bins[3].mean_score)
    assert cal.ece == pytest.approx((2 * 0.095 + 1 * 0.8 + 1 * 0.5 + 2 * 0.005) / 6)
    assert "[0.8, 1.0]" in cal.table() and "[0.6, 0.8)" in cal.table()
    assert "[0.333, 0.667)" in calibration(p, y, n_bins=3).table()


@pytest.mark.parametrize(("p", "y", "match"), [
    ([0.5, 1.5], [0, 1], "in \\[0, 1\\]"),
    ([0.5], [0, 1], "one length"),
    ([], [], "no documents"),
])
def test_bad_input_is_refused(p: list, y: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        calibration(np.asarray(p, dtype=float), np.asarray(y))


def test_no_bins_is_refused() -> None:
    with pytest.raises(ValueError, match="n_bins must be at least 1"):
        calibration(np.asarray([0.5]), np.asarray([1]), n_bins=0)
