"""Threshold selection for a target benign false-positive rate, and the metrics that go with it."""

from __future__ import annotations

import numpy as np


def threshold_for_fpr(benign_scores: np.ndarray, target_fpr: float) -> float:
    """Lowest threshold t such that the share of benign scores >= t is at most ``target_fpr``.

    Ties are respected: no benign score tied with an allowed false positive can slip past.
    """
    if not 0.0 <= target_fpr < 1.0:
        raise ValueError(f"target_fpr: expected a rate in [0, 1), got {target_fpr!r}")
    scores = np.sort(np.asarray(benign_scores, dtype=float))[::-1]
    if len(scores) == 0:
        raise ValueError("benign_scores: expected at least one benign score, got none")
    allowed = int(np.floor(target_fpr * len(scores) + 1e-9))
    if allowed >= len(scores):
        return float(scores[-1])
    return float(min(np.nextafter(scores[allowed], np.inf), 1.0 + 1e-12))


def rate_at(scores: np.ndarray, threshold: float) -> float:
    """Share of ``scores`` at or above ``threshold``."""
    scores = np.asarray(scores, dtype=float)
    return float((scores >= threshold).mean()) if len(scores) else 0.0


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Calibration reliability: per probability bin, mean predicted vs observed positive rate."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            rows.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": int(mask.sum()),
                         "mean_predicted": float(p[mask].mean()),
                         "observed_rate": float(y[mask].mean())})
    return rows


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    rows = reliability_table(y, p, bins)
    n = sum(r["n"] for r in rows) or 1
    return float(sum(r["n"] * abs(r["mean_predicted"] - r["observed_rate"]) for r in rows) / n)
