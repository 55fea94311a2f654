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
    """Top contributing features for the selected row positions, with value and percentile.

    Occlusion finds nothing when the score is saturated (several features each suffice on their
    own); then the model's features where the account is most extreme among that day's accounts
    (at or above the 95th percentile) stand in, with ``contribution`` null.
    """
    if len(rows) == 0:
        return {}
    contributions = model.explain(frame.iloc[rows], top=top)
    pct = percentile_ranks(frame, list(model.feature_names_in_))
    out: dict[int, list[dict]] = {}
    for pos, row in zip(rows, contributions, strict=True):
        picked = [(name, round(drop, 4)) for name, drop in row]
        if not picked:
            picked = [(name, None) for name in _most_extreme(pct, pos, top)]
        out[int(pos)] = [_item(frame, pct, pos, name, c) for name, c in picked]
    return out


def _most_extreme(pct: dict[str, np.ndarray], pos: int, top: int) -> list[str]:
    ranked = sorted(((p[pos], name) for name, p in pct.items() if not math.isnan(p[pos])
                     and p[pos] >= 95.0), reverse=True)
    return [name for _, name in ranked[:top]]


def _item(frame: pd.DataFrame, pct: dict[str, np.ndarray], pos: int, name: str,
          contribution: float | None) -> dict:
    p = pct.get(name)
    return {
        "feature": name,
        "value": _plain(frame[name].iloc[pos] if name in frame.columns else None),
        "percentile": None if p is None or math.isnan(p[pos]) else round(float(p[pos]), 2),
        "contribution": contribution,
    }


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
