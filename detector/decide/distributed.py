"""Classifier scoring and occlusion explanations on a Spark cluster (``engine = "spark"``).

The fitted model is pickled once on the driver and broadcast; each executor's Python worker
unpickles it once per broadcast (cached by broadcast id for the worker's life) and applies it
with ``mapInArrow`` to its partition of the feature rows, repartitioned by ``account_id``. Only
the per-row results come back: probability and anomaly score, or the top contributions of the
rows to explain. Every model output depends on its own row only, so any partitioning gives the
same numbers as scoring the whole frame in one process.

:func:`predict_view` scores the rows of the Spark view the decide stage assembles on the
executors (``detector.features.spark_assemble``), keyed by (account_id, date): nothing is sent
from the driver. :func:`explain` sends a frame's rows from the driver (the flagged
account-days only).
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

_POS, _DAY = "_pos", "_day"
_MODELS: dict[str, Any] = {}  # pickle digest -> unpickled model, per Python worker process


def _model(digest: str, broadcast: Any) -> Any:
    """The broadcast model, unpickled once per Python worker process (and model)."""
    model = _MODELS.get(digest)
    if model is None:
        _MODELS.clear()  # one model at a time: a worker lives for many jobs
        model = _MODELS[digest] = pickle.loads(broadcast.value)
    return model


class _Apply:
    """``mapInArrow`` function: rows of ``keys`` (default ``_pos``) + feature columns ->
    ``keys`` + ``kind``'s output."""

    def __init__(self, digest: str, broadcast: Any, kind: str, top: int = 3,
                 absent: list[str] | None = None, keys: tuple[str, ...] = (_POS,)):
        self.digest, self.broadcast, self.kind, self.top = digest, broadcast, kind, top
        self.absent, self.keys = absent, keys

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        got = list(batches)
        if not got:
            return
        frame = pa.Table.from_batches(got).to_pandas()
        model = _model(self.digest, self.broadcast)
        keys = {k: pa.array(frame[k].to_numpy()) for k in self.keys}
        if self.kind == "score":
            proba = model.predict_proba(frame)[:, 1]
            anomaly = model.anomaly_score(frame)
            out = pa.table({**keys, "proba": np.asarray(proba, np.float64),
                            "anomaly": np.asarray(anomaly, np.float64)})
        else:
            rows = model.explain(frame, top=self.top, absent=self.absent)
            out = pa.table({**keys, "contributions": [json.dumps(r) for r in rows]})
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


def predict_view(settings: Settings, model: Any, view: str, frame: pd.DataFrame
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated probability, anomaly score) of every row of the Spark temp view ``view``
    (``detector.features.spark_assemble``), scored where the rows are, in the order of
    ``frame``'s (account_id, date) keys: only the two numbers per row come to the driver."""
    from pyspark.sql import functions as F

    from detector.features.engine import spark_session

    if len(frame) == 0:
        return np.zeros(0), np.zeros(0)
    session = spark_session(settings)
    table = session.table(f"`{view}`")
    cols = [F.col("account_id").cast("string").alias("account_id"),
            F.col("date").cast("string").alias(_DAY)]
    features = list(model.feature_names_in_)
    # the matrix the model builds (estimator.to_matrix): each feature as a double, absent: null
    cols += [(F.col(f"`{f}`") if f in table.columns else F.lit(None)).cast("double").alias(f)
             for f in features]
    parts = max(1, int(session.sparkContext.defaultParallelism))
    rows = table.select(*cols).repartition(parts, "account_id")
    blob = pickle.dumps(model)
    broadcast = session.sparkContext.broadcast(blob)
    try:
        fn = _Apply(hashlib.sha256(blob).hexdigest(), broadcast, "score", keys=("account_id", _DAY))
        got = rows.mapInArrow(fn, f"account_id string, {_DAY} string, proba double, "
                                  "anomaly double").toArrow().to_pandas()
    finally:
        broadcast.unpersist()
    got = got.set_index(["account_id", _DAY])
    want = pd.MultiIndex.from_arrays([frame["account_id"].astype(str).to_numpy(),
                                      day_strings(frame["date"])])
    if len(got) != len(frame) or not got.index.is_unique or not want.isin(got.index).all():
        raise RuntimeError(f"spark score of view {view!r}: {len(got)} rows came back for the "
                           f"{len(frame)} account-days of the frame, or not the same keys")
    got = got.loc[want]
    return got["proba"].to_numpy(np.float64), got["anomaly"].to_numpy(np.float64)


def day_strings(dates: pd.Series) -> np.ndarray:
    """``dates`` as YYYY-MM-DD strings (how Spark casts a date to a string)."""
    return pd.to_datetime(dates).dt.strftime("%Y-%m-%d").to_numpy()


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
