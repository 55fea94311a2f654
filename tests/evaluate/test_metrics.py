"""Metric arithmetic pinned by hand-computed cases (and cross-checked with scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from detector.evaluate.metrics import average_precision, ratio, recall_at_fpr, summary_stats


def test_average_precision_hand_computed():
    # ranks: 0.9 (+) P=1 R=.5 | 0.8 (-) | 0.7 (+) P=2/3 R=1 | 0.1 (-)
    y, s = [1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]
    assert average_precision(y, s) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_average_precision_ties_enter_together():
    # threshold .5 flags a (+) and b (-): P=.5 R=.5; threshold .2 adds c (+): P=2/3 R=1
    y, s = [1, 0, 1], [0.5, 0.5, 0.2]
    assert average_precision(y, s) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)


def test_average_precision_matches_sklearn_and_edge_cases():
    rng = np.random.default_rng(3)
    y = rng.random(200) < 0.3
    s = np.round(rng.random(200) + 0.3 * y, 2)  # rounded: many ties
    assert average_precision(y, s) == pytest.approx(average_precision_score(y, s))
    assert average_precision([0, 0], [0.1, 0.2]) is None
    assert average_precision([1, 1], [0.1, 0.2]) == 1.0


def test_recall_at_fpr_hand_computed():
    y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.3, 0.85, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    # threshold .9: recall 1/3, fpr 0; .85 brings a negative (fpr 1/9 > .1), stop
    assert recall_at_fpr(y, s, 0.1) == pytest.approx(1 / 3)
    # allowing fpr 1/9: threshold .8 -> recall 2/3; .3 -> recall 1, fpr still 1/9
    assert recall_at_fpr(y, s, 0.12) == pytest.approx(1.0)
    assert recall_at_fpr([1, 1], [0.1, 0.2], 0.1) is None


def test_ratio_and_stats():
    assert ratio(1, 4) == 0.25 and ratio(3, 0) is None
    assert summary_stats([0, 1, 5]) == {"mean": 2.0, "median": 1.0, "max": 5.0}
    assert summary_stats([]) == {"mean": None, "median": None, "max": None}
