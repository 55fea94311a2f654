"""Turn model explanations and rule hits into the verdict's ``reasons`` and ``explanation_json``."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from detector.model.estimator import DistillationClassifier


def percentile_ranks(frame: pd.DataFrame, features: list[str]) -> dict[str, np.ndarray]:
    """Population percentile (0-100) of each row's value per feature, within its day."""
    out: dict[str, np.ndarray] = {}
    for name in features:
        if name in frame.columns:
            values = pd.to_numeric(frame[name], errors="coerce")
            out[name] = (values.groupby(frame["date"]).rank(pct=True) * 100).to_numpy()
    return out


def explain_rows(model: DistillationClassifier, frame: pd.DataFrame, rows: np.ndarray,
                 top: int = 3) -> dict[int, list[dict]]:
    """Top contributing features for the selected row positions, with value and percentile."""
    if len(rows) == 0:
        return {}
    subset = frame.iloc[rows]
    contributions = model.explain(subset, top=top)
    names = sorted({name for row in contributions for name, _ in row})
    pct = percentile_ranks(frame, names)
    out: dict[int, list[dict]] = {}
    for pos, row in zip(rows, contributions, strict=True):
        items = []
        for name, drop in row:
            value = frame[name].iloc[pos] if name in frame.columns else None
            p = pct.get(name)
            items.append({
                "feature": name,
                "value": _plain(value),
                "percentile": None if p is None or math.isnan(p[pos]) else round(float(p[pos]), 2),
                "contribution": round(drop, 4),
            })
        out[int(pos)] = items
    return out


def _plain(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else round(float(value), 6)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    return str(value)


def reasons_text(sources: list[str], features: list[dict]) -> str:
    """';'-joined: acting rule names (and cluster_escalation / allowlisted), then top features."""
    parts = [s for s in sources if s != "model"]
    parts += [f["feature"] for f in features if f["feature"] not in parts]
    return ";".join(parts)


def explanation_json(sources: list[str], features: list[dict], anomaly: float) -> str:
    return json.dumps({"sources": sources, "top_features": features,
                       "anomaly_score": round(float(anomaly), 4)}, sort_keys=True)
