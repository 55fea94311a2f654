"""Notebook helper comparing models on the same labelled account-days."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from detector.model.estimator import DistillationClassifier


def model_comparison(frame: pd.DataFrame,
                     models: Mapping[str, tuple[DistillationClassifier, dict]]) -> pd.DataFrame:
    """Score the same labelled account-days with each model; one row per model.

    ``frame`` has the label column ``is_distiller`` and the features; ``models`` maps a display
    name to ``(model, card)``. Columns: model, version, average_precision, roc_auc, then
    recall and benign false-positive rate at the card's own review and block thresholds.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    from detector.model.thresholds import rate_at

    if "is_distiller" not in frame.columns:
        raise ValueError("frame: expected an 'is_distiller' label column, got "
                         f"{list(frame.columns)[:8]}...")
    y = frame["is_distiller"].to_numpy().astype(int)
    both = len(set(y.tolist())) == 2
    rows = []
    for name, (model, card) in models.items():
        p = model.predict_proba(frame)[:, 1]
        thr = card.get("thresholds", {})
        review, block = float(thr.get("review", 0.5)), float(thr.get("block", 0.9))
        rows.append({
            "model": name, "version": card.get("version"),
            "average_precision": float(average_precision_score(y, p)) if both else None,
            "roc_auc": float(roc_auc_score(y, p)) if both else None,
            "review_threshold": review, "recall_review": rate_at(p[y == 1], review),
            "fpr_review": rate_at(p[y == 0], review), "block_threshold": block,
            "recall_block": rate_at(p[y == 1], block), "fpr_block": rate_at(p[y == 0], block),
        })
    return pd.DataFrame(rows)
