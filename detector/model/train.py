"""Train, validate and card a classifier from labelled account-days.

Validation is by account (GroupShuffleSplit): no account has days on both sides, so the
validation figures and the thresholds chosen on them are not inflated by an account's other days.
"""

from __future__ import annotations

import hashlib
import platform
from datetime import UTC, datetime
from importlib import metadata

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import GroupShuffleSplit

import detector.columns as registry
from detector.model.estimator import DistillationClassifier, numeric_feature_columns
from detector.model.thresholds import (
    expected_calibration_error,
    rate_at,
    reliability_table,
    threshold_for_fpr,
)

LABEL = "is_distiller"

#: Feature columns that grow with an account's volume alone (counts, sums, distinct counts, and
#: hour coverage, which a person's unchanged day fills more of as they send more requests): the
#: column registry's ``volume=True`` columns (:func:`detector.columns.volume_names`).
#: They are never model inputs: a heavy legitimate account would score higher than the same
#: behaviour at low volume. Volume gates rules and the policy's model-block floor
#: (``detector/decide/scoring.py``); it never decides. Ratios, shares and fixed-budget
#: estimates (``div_*_ngram_entropy``, ``cov_codebook_coverage``) stay.
VOLUME_FEATURES: tuple[str, ...] = registry.volume_names()

#: Packages whose version can change the training features (not imported here: recorded only).
FEATURE_ENGINES = ("duckdb", "pyarrow", "ibis-framework", "model2vec")


def _installed(name: str) -> str | None:
    """The installed version of package ``name``, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def frame_hash(frame: pd.DataFrame) -> str:
    """sha256 of the training frame's content (stable for equal frames)."""
    ordered = frame.sort_values(["account_id", "date"]).reset_index(drop=True)
    digest = hashlib.sha256(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
    return digest.hexdigest()


#: The account-against-its-own-history family (registry family ``hist``) needs weeks of an
#: account's days; the training scenarios span a few days, so it is not a model input (rules
#: may use it).
HISTORY_FEATURES: frozenset[str] = frozenset(c.name for c in registry.columns("hist"))


def split_by_account(frame: pd.DataFrame, validation_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    gss = GroupShuffleSplit(n_splits=1, test_size=validation_share, random_state=seed)
    train_idx, val_idx = next(gss.split(frame, frame[LABEL], groups=frame["account_id"]))
    return train_idx, val_idx


def train_model(frame: pd.DataFrame, *, review_fpr: float = 0.01, block_fpr: float = 0.001,
                validation_share: float = 0.3, seed: int = 0, description: str = "",
                exclude: tuple[str, ...] = VOLUME_FEATURES,
                model_params: dict | None = None) -> tuple[DistillationClassifier, dict]:
    """Fit on part of the accounts, validate and choose thresholds on the rest.

    ``frame`` has account_id, date, the label column ``is_distiller`` and numeric features;
    ``exclude`` names columns that are not model inputs (default: :data:`VOLUME_FEATURES`).
    """
    if LABEL not in frame.columns:
        raise ValueError(f"frame: expected a '{LABEL}' label column, got columns {list(frame.columns)[:8]}...")
    features = [c for c in numeric_feature_columns(frame)
                if c != LABEL and c not in exclude and c not in HISTORY_FEATURES]
    train_idx, val_idx = split_by_account(frame, validation_share, seed)
    train, val = frame.iloc[train_idx], frame.iloc[val_idx]
    model = DistillationClassifier(features=features, random_state=seed, **(model_params or {}))
    model.fit(train, train[LABEL].to_numpy())
    y_val = val[LABEL].to_numpy().astype(int)
    p_val = model.predict_proba(val)[:, 1]
    benign = p_val[y_val == 0]
    review_t = threshold_for_fpr(benign, review_fpr)
    block_t = max(threshold_for_fpr(benign, block_fpr), review_t)
    positives = p_val[y_val == 1]
    card = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "estimator": "HistGradientBoostingClassifier + CalibratedClassifierCV(isotonic, cv=3) "
                     "+ IsolationForest anomaly score",
        "features": features,
        "excluded_features": [c for c in exclude if c in frame.columns],
        "training_data": {
            "description": description,
            "sha256": frame_hash(frame[["account_id", "date", LABEL, *features]]),
            "rows": len(frame), "train_rows": len(train), "validation_rows": len(val),
            "accounts": int(frame["account_id"].nunique()),
            "positive_rows": int(frame[LABEL].sum()),
        },
        "thresholds": {"review": review_t, "block": block_t,
                       "review_target_fpr": review_fpr, "block_target_fpr": block_fpr},
        "validation": {
            "average_precision": float(average_precision_score(y_val, p_val)),
            "roc_auc": float(roc_auc_score(y_val, p_val)),
            "brier": float(brier_score_loss(y_val, p_val)),
            "ece": expected_calibration_error(y_val, p_val),
            "reliability": reliability_table(y_val, p_val),
            "recall_review": rate_at(positives, review_t),
            "recall_block": rate_at(positives, block_t),
            "fpr_review": rate_at(benign, review_t),
            "fpr_block": rate_at(benign, block_t),
        },
        "libraries": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                      "pandas": pd.__version__, "numpy": np.__version__,
                      # the engines that computed the training features
                      **{name: _installed(name) for name in FEATURE_ENGINES}},
    }
    return model, card
