"""Metric arithmetic, kept free of I/O so hand-computed tests can pin it.

Conventions: a rate whose denominator is zero is ``None`` (not 0, not NaN), so a report never
claims a perfect score on an empty class.
"""

from __future__ import annotations

import numpy as np


def ratio(num: float, den: float) -> float | None:
    """``num / den``, or None when ``den`` is 0."""
    return None if den == 0 else float(num) / float(den)


def average_precision(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision of ``score`` for binary labels ``y_true`` (1 = distiller).

    AP = sum over distinct score thresholds t (descending) of (R_t - R_prev) * P_t, where P_t
    and R_t are precision and recall of "score >= t". Tied scores enter together (same as
    scikit-learn's ``average_precision_score``). None when there is no positive.
    """
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(score, dtype=float)
    n_pos = int(y.sum())
    if n_pos == 0 or len(y) == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    tp = np.cumsum(y)[last_of_tie]
    predicted = last_of_tie + 1
    precision = tp / predicted
    recall = tp / n_pos
    prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - prev) * precision))


def recall_at_fpr(y_true: np.ndarray, score: np.ndarray, max_fpr: float) -> float | None:
    """Best recall of a threshold on ``score`` whose false-positive rate is <= ``max_fpr``.

    Accounts with score >= threshold are flagged; ties are flagged together. None when either
    class is empty.
    """
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(score, dtype=float)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    best = 0.0
    for t in np.unique(s)[::-1]:
        flagged = s >= t
        fpr = (flagged & ~y).sum() / n_neg
        if fpr > max_fpr:
            break
        best = max(best, (flagged & y).sum() / n_pos)
    return float(best)


def summary_stats(values: list[float]) -> dict[str, float | None]:
    """Mean, median and max of ``values`` (None each when empty)."""
    if not values:
        return {"mean": None, "median": None, "max": None}
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "median": float(np.median(a)), "max": float(a.max())}
