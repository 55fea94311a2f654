"""Turn model explanations and rule hits into the verdict's ``reasons`` and ``explanation_json``."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from detector.columns.percentile import midrank_percentiles

if TYPE_CHECKING:  # the type only: the pages render reasons without loading scikit-learn
    from detector.model.estimator import DistillationClassifier

#: A model contribution (drop in calibrated probability when the feature is replaced by the
#: training median) below this is not a reason: it does not change what the score says. The
#: ``reasons`` text and the structured reasons (``detector.decide.reasons``) both leave it out;
#: ``explanation_json`` keeps it for audit.
CONTRIBUTION_FLOOR = 0.01


def percentile_ranks(frame: pd.DataFrame, features: list[str]) -> dict[str, np.ndarray]:
    """Population percentile (0-100) of each row's value per feature, within its day
    (``detector.columns.percentile.midrank_percentiles``: the one definition pages use)."""
    return {name: midrank_percentiles(frame[name], frame["date"])
            for name in features if name in frame.columns}


def day_medians(frame: pd.DataFrame, features: list[str]) -> dict[str, np.ndarray]:
    """Median of each feature over the row's day (nulls left out), aligned with ``frame``."""
    out: dict[str, np.ndarray] = {}
    for name in features:
        if name in frame.columns:
            values = pd.to_numeric(frame[name], errors="coerce").astype("float64")
            out[name] = values.groupby(frame["date"]).transform("median").to_numpy()
    return out


def explain_rows(model: DistillationClassifier, frame: pd.DataFrame, rows: np.ndarray,
                 top: int = 3, contributions: list[list[tuple[str, float]]] | None = None,
                 ranks: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None
                 ) -> dict[int, list[dict]]:
    """Top contributing features for the selected row positions, with value and percentile.

    ``contributions``: ``model.explain(frame.iloc[rows], top)`` when it was already computed
    elsewhere (on a Spark cluster, ``detector.decide.distributed``). ``ranks``: the
    (percentiles, medians) of the model's features, aligned with ``frame`` and filled at least
    at ``rows``, when computed elsewhere (``detector.decide.spark_percentiles``); else they are
    computed here over the whole day's column (:func:`percentile_ranks`, :func:`day_medians`).

    Occlusion finds nothing when the score is saturated (several features each suffice on their
    own); then the model's features where the account is most extreme among that day's accounts
    (at or above the 95th percentile) stand in, with ``contribution`` null.
    """
    if len(rows) == 0:
        return {}
    if contributions is None:
        contributions = model.explain(frame.iloc[rows], top=top)
    if ranks is None:
        ranks = (percentile_ranks(frame, list(model.feature_names_in_)),
                 day_medians(frame, list(model.feature_names_in_)))
    pct, med = ranks
    out: dict[int, list[dict]] = {}
    for pos, row in zip(rows, contributions, strict=True):
        picked = [(name, round(drop, 4)) for name, drop in row]
        if not picked:
            picked = [(name, None) for name in _most_extreme(pct, pos, top)]
        out[int(pos)] = [_item(frame, pct, med, pos, name, c) for name, c in picked]
    return out


def _most_extreme(pct: dict[str, np.ndarray], pos: int, top: int) -> list[str]:
    ranked = sorted(((p[pos], name) for name, p in pct.items() if not math.isnan(p[pos])
                     and p[pos] >= 95.0), reverse=True)
    return [name for _, name in ranked[:top]]


def _item(frame: pd.DataFrame, pct: dict[str, np.ndarray], med: dict[str, np.ndarray],
          pos: int, name: str, contribution: float | None) -> dict:
    p, m = pct.get(name), med.get(name)
    return {
        "feature": name,
        "value": _plain(frame[name].iloc[pos] if name in frame.columns else None),
        "percentile": None if p is None or math.isnan(p[pos]) else round(float(p[pos]), 2),
        "median": None if m is None or math.isnan(m[pos]) else _plain(float(m[pos])),
        "contribution": contribution,
    }


def negligible(item: dict) -> bool:
    """A model feature that explains nothing: its contribution is below
    ``CONTRIBUTION_FLOOR``. (Null contribution: the saturated-score fallback, which picks
    features at or above the day's 95th percentile, so it always counts.)"""
    c = item.get("contribution")
    return c is not None and float(c) < CONTRIBUTION_FLOOR


def rule_values(frame: pd.DataFrame, rule_hits: list[list[str]], columns: dict[str, tuple]
                ) -> list[dict[str, dict]]:
    """Per row, ``{rule name: {column: value}}`` of the columns each hit rule's condition
    reads (``columns``: rule name -> column names): the values that made it fire."""
    out = []
    for pos, hits in enumerate(rule_hits):
        row = {}
        for name in hits:
            row[name] = {c: _plain(frame[c].iloc[pos]) if c in frame.columns else None
                         for c in columns.get(name, ())}
        out.append(row)
    return out


def _plain(value: object) -> object:
    """A frame cell as JSON: null for a missing value (None, NaN, and the ``pd.NA`` / ``NaT``
    of the nullable columns DuckDB's ``.df()`` returns), numbers as numbers, else text."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, (np.floating, float)):
        return round(float(value), 6)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    return str(value)


def reasons_text(sources: list[str], features: list[dict]) -> str:
    """';'-joined: acting rule names (and cluster_escalation / allowlisted), then top features."""
    parts = [s for s in sources if s != "model"]
    parts += [f["feature"] for f in features if f["feature"] not in parts and not negligible(f)]
    return ";".join(parts)


def explanation_json(sources: list[str], features: list[dict], anomaly: float,
                     rules: dict[str, dict] | None = None) -> str:
    """``{sources, top_features, anomaly_score}``, plus ``rule_values`` (the columns of each
    acting or shadow rule hit, with the account-day's values) when there are rule hits."""
    doc = {"sources": sources, "top_features": features, "anomaly_score": round(float(anomaly), 4)}
    if rules:
        doc["rule_values"] = rules
    return json.dumps(doc, sort_keys=True)
