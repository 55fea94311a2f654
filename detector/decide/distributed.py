"""Classifier scoring and occlusion explanations on a Spark cluster (``engine = "spark"``).

The fitted model is pickled once on the driver and broadcast; each executor's Python worker
unpickles it once per broadcast (cached by broadcast id for the worker's life) and applies it
with ``mapInArrow`` to its partition of the feature rows, repartitioned by ``account_id``. Only
the per-row results come back: probability and anomaly score, or the top contributions of the
rows to explain. Every model output depends on its own row only, so any partitioning gives the
same numbers as scoring the whole frame in one process.

What stays on the driver (docs/scale.md): the feature frame itself (one row per account-day,
read from the feature store), rules and the policy. The day's percentile ranks and medians of
the explained rows' features run on the cluster too (``detector.decide.spark_percentiles``).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.model.estimator import to_matrix
from detector.settings import Settings

_POS = "_pos"
_MODELS: dict[str, Any] = {}  # pickle digest -> unpickled model, per Python worker process


def _model(digest: str, broadcast: Any) -> Any:
    """The broadcast model, unpickled once per Python worker process (and model)."""
    model = _MODELS.get(digest)
    if model is None:
        _MODELS.clear()  # one model at a time: a worker lives for many jobs
        model = _MODELS[digest] = pickle.loads(broadcast.value)
    return model


class _Apply:
    """``mapInArrow`` function: rows ``_pos`` + feature columns -> ``_pos`` + ``kind``'s output."""

    def __init__(self, digest: str, broadcast: Any, kind: str, top: int = 3,
                 absent: list[str] | None = None):
        self.digest, self.broadcast, self.kind, self.top = digest, broadcast, kind, top
        self.absent = absent

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        got = list(batches)
        if not got:
            return
        frame = pa.Table.from_batches(got).to_pandas()
        model = _model(self.digest, self.broadcast)
        pos = frame[_POS].to_numpy(np.int64)
        if self.kind == "score":
            proba = model.predict_proba(frame)[:, 1]
            anomaly = model.anomaly_score(frame)
            out = pa.table({_POS: pos, "proba": np.asarray(proba, np.float64),
                            "anomaly": np.asarray(anomaly, np.float64)})
        else:
            rows = model.explain(frame, top=self.top, absent=self.absent)
            out = pa.table({_POS: pos, "contributions": [json.dumps(r) for r in rows]})
        yield from out.to_batches()


def _rows_frame(session: Any, model: Any, frame: pd.DataFrame, rows: np.ndarray) -> Any:
    """A Spark DataFrame of ``frame``'s rows at ``rows``: ``_pos``, ``account_id`` and the
    model's features as float64 (the matrix the model would build), by account."""
    features = list(model.feature_names_in_)
    matrix = to_matrix(frame.iloc[rows], features)
    cols = {_POS: pa.array(rows.astype(np.int64)),
            "account_id": pa.array(frame["account_id"].iloc[rows].astype(str).tolist())}
    cols.update({name: pa.array(matrix[:, j], from_pandas=True) for j, name in enumerate(features)})
    schema = ", ".join([f"{_POS} long", "account_id string", *(f"`{f}` double" for f in features)])
    parts = max(1, int(session.sparkContext.defaultParallelism))
    return session.createDataFrame(pa.table(cols), schema=schema).repartition(parts, "account_id")


def _collect(settings: Settings, model: Any, frame: pd.DataFrame, rows: np.ndarray, kind: str,
             schema: str, top: int = 3, absent: list[str] | None = None) -> pd.DataFrame:
    from detector.features.engine import spark_session

    session = spark_session(settings)
    blob = pickle.dumps(model)
    broadcast = session.sparkContext.broadcast(blob)
    try:
        df = _rows_frame(session, model, frame, rows)
        fn = _Apply(hashlib.sha256(blob).hexdigest(), broadcast, kind, top, absent)
        got = df.mapInArrow(fn, schema).toArrow().to_pandas()
    finally:
        broadcast.unpersist()
    if len(got) != len(rows):
        raise RuntimeError(f"spark {kind}: {len(rows)} rows sent, {len(got)} came back")
    return got.set_index(_POS).loc[rows]


def predict(settings: Settings, model: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated probability, anomaly score) of every row of ``frame``, on the cluster."""
    if len(frame) == 0:
        return np.zeros(0), np.zeros(0)
    got = _collect(settings, model, frame, np.arange(len(frame)), "score",
                   f"{_POS} long, proba double, anomaly double")
    return got["proba"].to_numpy(np.float64), got["anomaly"].to_numpy(np.float64)


def explain(settings: Settings, model: Any, frame: pd.DataFrame, rows: np.ndarray,
            top: int = 3) -> list[list[tuple[str, float]]]:
    """``model.explain(frame.iloc[rows], top)`` computed on the cluster, in ``rows`` order (the
    features missing in all of those rows, decided here over all of them, are never occluded,
    as in one process)."""
    if len(rows) == 0:
        return []
    absent = model.absent_features(frame.iloc[rows])
    got = _collect(settings, model, frame, np.asarray(rows, np.int64), "explain",
                   f"{_POS} long, contributions string", top, absent)
    return [[(name, float(drop)) for name, drop in json.loads(text)]
            for text in got["contributions"]]
