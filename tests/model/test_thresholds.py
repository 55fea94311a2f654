import numpy as np
import pytest

from detector.model.thresholds import (
    expected_calibration_error,
    rate_at,
    reliability_table,
    threshold_for_fpr,
)


def test_threshold_allows_exactly_the_target_share():
    benign = np.arange(1000) / 1000.0  # 0.000 .. 0.999
    t = threshold_for_fpr(benign, 0.01)
    # 10 benign scores (0.990..0.999) may be at or above the threshold, not 11.
    assert rate_at(benign, t) == pytest.approx(0.01)
    assert 0.989 < t <= 0.990 + 1e-12


def test_threshold_respects_ties():
    benign = np.array([0.1] * 90 + [0.9] * 10)
    # 5% allowed but the top 10% are tied: the threshold must pass above all of them.
    t = threshold_for_fpr(benign, 0.05)
    assert rate_at(benign, t) == 0.0
    assert t > 0.9


def test_zero_target_is_above_every_benign_score():
    benign = np.array([0.2, 0.5, 0.7])
    assert rate_at(benign, threshold_for_fpr(benign, 0.0)) == 0.0


def test_threshold_rejects_bad_target():
    with pytest.raises(ValueError, match="target_fpr"):
        threshold_for_fpr(np.array([0.1]), 1.5)
    with pytest.raises(ValueError, match="benign_scores"):
        threshold_for_fpr(np.array([]), 0.1)


def test_reliability_and_ece_hand_computed():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95])
    rows = reliability_table(y, p, bins=10)
    assert [(r["bin"], r["n"]) for r in rows] == [("0.0-0.1", 2), ("0.9-1.0", 2)]
    # |0.05 - 0| * 2 + |0.95 - 1| * 2 over 4 rows = 0.05
    assert expected_calibration_error(y, p) == pytest.approx(0.05)
