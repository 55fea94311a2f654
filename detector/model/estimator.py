"""DistillationClassifier: calibrated gradient boosting over account-day features.

Grain: one row per (account_id, date). Input: a DataFrame of numeric feature columns (missing
values allowed: the booster routes NaN natively, so a feature family that is switched off at
scoring time simply reads as NaN). Output: a calibrated probability that the account-day is
distillation traffic, an anomaly score in [0, 1] from an IsolationForest fitted on the training
population, and per-row explanations (occlusion against the population median).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.utils.validation import check_is_fitted

KEY_COLUMNS = ("account_id", "date", "cluster_id")
LABEL_COLUMNS = ("is_distiller", "label")


def numeric_feature_columns(frame: pd.DataFrame) -> list[str]:
    """Feature columns a model may use: every numeric or boolean column except the keys."""
    cols = []
    for name in frame.columns:
        if name in KEY_COLUMNS or name in LABEL_COLUMNS:
            continue
        dtype = frame[name].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            cols.append(name)
    return cols


def to_matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Float matrix with columns in ``features`` order; absent columns become NaN."""
    out = np.full((len(frame), len(features)), np.nan, dtype=np.float64)
    for j, name in enumerate(features):
        if name in frame.columns:
            out[:, j] = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
    out[~np.isfinite(out)] = np.nan
    return out


class DistillationClassifier(ClassifierMixin, BaseEstimator):
    """Gradient boosting + probability calibration + isolation-forest anomaly score.

    Parameters
    ----------
    features : list of str or None
        Feature columns to use; None = every numeric column of the training frame.
    max_iter, learning_rate, max_leaf_nodes, l2_regularization :
        Passed to ``HistGradientBoostingClassifier``.
    calibration : {"isotonic", "sigmoid"}
        Calibration method of ``CalibratedClassifierCV``.
    cv : int
        Folds for calibration (each fold's booster is calibrated on the held-out fold).
    random_state : int
    """

    def __init__(self, features: list[str] | None = None, max_iter: int = 300,
                 learning_rate: float = 0.08, max_leaf_nodes: int = 31,
                 l2_regularization: float = 1.0, calibration: str = "isotonic", cv: int = 3,
                 random_state: int = 0) -> None:
        self.features = features
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state

    # -- learning -------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(
                f"calibration: expected 'isotonic' or 'sigmoid', got {self.calibration!r}")
        if not isinstance(self.cv, int) or self.cv < 2:
            raise ValueError(f"cv: expected an int >= 2, got {self.cv!r}")

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> DistillationClassifier:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X: expected a pandas DataFrame of features, got {type(X).__name__}")
        self._check_params()
        y_arr = np.asarray(y).astype(int)
        if len(y_arr) != len(X):
            raise ValueError(f"y: expected {len(X)} labels (one per row of X), got {len(y_arr)}")
        if set(np.unique(y_arr)) != {0, 1}:
            raise ValueError(f"y: expected both classes 0 and 1, got {sorted(set(y_arr))}")
        self.feature_names_in_ = np.array(self.features or numeric_feature_columns(X), dtype=object)
        matrix = to_matrix(X, list(self.feature_names_in_))
        booster = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, l2_regularization=self.l2_regularization,
            random_state=self.random_state,
        )
        self.model_ = CalibratedClassifierCV(booster, method=self.calibration, cv=self.cv)
        self.model_.fit(matrix, y_arr)
        self.classes_ = np.array([0, 1])
        self.medians_ = np.nanmedian(np.where(np.isnan(matrix), np.nan, matrix), axis=0)
        self.medians_ = np.where(np.isnan(self.medians_), 0.0, self.medians_)
        filled = np.where(np.isnan(matrix), self.medians_, matrix)
        self.anomaly_ = IsolationForest(n_estimators=150, random_state=self.random_state)
        self.anomaly_.fit(filled)
        raw = -self.anomaly_.score_samples(filled)
        self.anomaly_range_ = (float(np.percentile(raw, 1)), float(np.percentile(raw, 99.9)))
        return self

    # -- scoring --------------------------------------------------------------------------
    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        return to_matrix(X, list(self.feature_names_in_))

    def absent_features(self, X: pd.DataFrame) -> list[str]:
        """The model's features missing in every row of ``X`` (none when ``X`` is empty)."""
        matrix = self._matrix(X)
        if len(matrix) == 0:
            return []
        return [str(f) for f, gone in zip(self.feature_names_in_, np.isnan(matrix).all(axis=0),
                                          strict=True) if gone]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self._matrix(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def anomaly_score(self, X: pd.DataFrame) -> np.ndarray:
        """0 = typical of the training population, 1 = as unusual as its rarest 0.1%."""
        matrix = self._matrix(X)
        filled = np.where(np.isnan(matrix), self.medians_, matrix)
        raw = -self.anomaly_.score_samples(filled)
        lo, hi = self.anomaly_range_
        return np.clip((raw - lo) / max(hi - lo, 1e-9), 0.0, 1.0)

    def explain(self, X: pd.DataFrame, top: int = 3,
                absent: list[str] | None = None) -> list[list[tuple[str, float]]]:
        """Top features per row by occlusion: how much the probability drops when the feature
        is replaced by the training median. Only positive contributions are returned.

        ``absent``: features never occluded (a family switched off); default: those missing
        in every row of ``X``. Pass it (``absent_features`` of the whole frame) when ``X`` is
        one part of the rows to explain, so that a row's explanation does not depend on which
        rows share its part."""
        matrix = self._matrix(X)
        if len(matrix) == 0:
            return []
        n, k = matrix.shape
        if absent is None:
            absent = self.absent_features(X)
        skip = {j for j, name in enumerate(self.feature_names_in_) if name in set(absent)}
        rows, cols = occluded_pairs(matrix, self.medians_, split_thresholds(self.model_), skip)
        # One batched prediction over the row itself and every occluded copy that can differ
        # (tree traversal is vectorised per call, so one large call is far cheaper than many).
        copies = matrix[rows]
        copies[np.arange(len(rows)), cols] = self.medians_[cols]
        proba = self.model_.predict_proba(np.vstack([matrix, copies]))[:, 1]
        drops = np.zeros_like(matrix)
        drops[rows, cols] = proba[rows] - proba[n:]
        names = list(self.feature_names_in_)
        out = []
        for row in drops:
            order = np.argsort(-row)[:top]
            out.append([(names[j], float(row[j])) for j in order if row[j] > 1e-4])
        return out


def occluded_pairs(matrix: np.ndarray, medians: np.ndarray,
                   thresholds: dict[int, np.ndarray] | None,
                   skip: set[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) whose occlusion can change the prediction, columns in ``skip`` left out
    (default: the columns missing in every row of ``matrix``).

    Every tree of the model compares a feature with its split thresholds (``x <= t``), so a
    value and the median that no threshold separates take the same path in every tree: the
    occluded copy would score exactly as the row, its drop is 0 and it is not predicted. A
    feature no tree splits on is never occluded; a missing value always is (its direction is
    learned per node). With ``thresholds`` None (another kind of model) every pair is.
    """
    n, k = matrix.shape
    rows, cols = [], []
    for j in range(k):
        col = matrix[:, j]
        missing = np.isnan(col)
        if (missing.all() if skip is None else j in skip):
            continue
        if thresholds is None:
            differs = np.ones(n, bool)
        elif j not in thresholds:
            continue
        else:
            thr = thresholds[j]
            side = np.searchsorted(thr, np.where(missing, 0.0, col), side="left")
            differs = missing | (side != np.searchsorted(thr, medians[j], side="left"))
        hit = np.flatnonzero(differs)
        rows.append(hit)
        cols.append(np.full(len(hit), j))
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def split_thresholds(model: object) -> dict[int, np.ndarray] | None:
    """Sorted distinct split thresholds per column over every tree of a calibrated
    histogram-boosting model; None when the model is of another kind or splits on categories
    (then every feature must be treated as able to move every prediction)."""
    folds = getattr(model, "calibrated_classifiers_", None)
    if not folds:
        return None
    found: dict[int, list[np.ndarray]] = {}
    for fold in folds:
        predictors = getattr(fold.estimator, "_predictors", None)
        if predictors is None:
            return None
        for iteration in predictors:
            for tree in iteration:
                nodes = tree.nodes
                inner = nodes[nodes["is_leaf"] == 0]
                if "is_categorical" in inner.dtype.names and inner["is_categorical"].any():
                    return None
                for j in np.unique(inner["feature_idx"]):
                    found.setdefault(int(j), []).append(
                        inner["num_threshold"][inner["feature_idx"] == j])
    return {j: np.unique(np.concatenate(parts)) for j, parts in found.items()}


def split_features(model: object) -> set[int] | None:
    """Column indices any tree of a calibrated histogram-boosting model splits on; None when
    the model is of another kind (then every feature must be treated as used)."""
    thresholds = split_thresholds(model)
    return None if thresholds is None else set(thresholds)
