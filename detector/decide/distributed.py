"""The broadcast model on a Spark cluster (``engine = "spark"``) and the occlusion
explanations of the flagged account-days.

The fitted model is pickled once on the driver and broadcast; each executor's Python worker
unpickles it once per model (:func:`worker_model`, cached by the pickle's digest for the
worker's life) and applies it with ``mapInArrow`` to its partition of the rows. Every model
output depends on its own row only, so any partitioning gives the same numbers as scoring the
whole frame in one process.

The verdicts' probabilities and anomaly scores are computed with the policy where the view's
rows are (``detector.decide.spark_policy``); :func:`explain` sends the flagged account-days'
rows from the driver (a scratch Parquet file read by URI: ``spark_policy.sent_frame``),
repartitioned by ``account_id``, and only their top contributions come back.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.model.estimator import to_matrix
from detector.settings import Settings

_POS = "_pos"
_MODELS: dict[str, Any] = {}  # pickle digest -> unpickled model, per Python worker process


def worker_model(digest: str, broadcast: Any) -> Any:
    """The broadcast model (pickle digest ``digest``), unpickled once per Python worker process
    (and model)."""
    model = _MODELS.get(digest)
    if model is None:
        _MODELS.clear()  # one model at a time: a worker lives for many jobs
        model = _MODELS[digest] = pickle.loads(broadcast.value)
    return model


class _Apply:
    """``mapInArrow`` function: rows of ``_pos`` + feature columns -> ``_pos`` + the top
    ``top`` contributions of each row (JSON)."""

    def __init__(self, digest: str, broadcast: Any, top: int = 3,
                 absent: list[str] | None = None):
        self.digest, self.broadcast, self.top, self.absent = digest, broadcast, top, absent

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        got = list(batches)
        if not got:
            return
        frame = pa.Table.from_batches(got).to_pandas()
        model = worker_model(self.digest, self.broadcast)
        rows = model.explain(frame, top=self.top, absent=self.absent)
        out = pa.table({_POS: pa.array(frame[_POS].to_numpy()),
                        "contributions": [json.dumps(r) for r in rows]})
        yield from out.to_batches()


def _rows_frame(session: Any, settings: Settings, held: ExitStack, model: Any,
                frame: pd.DataFrame, rows: np.ndarray) -> Any:
    """A Spark DataFrame of ``frame``'s rows at ``rows``: ``_pos``, ``account_id`` and the
    model's features as float64 (the matrix the model would build), by account; sent as a
    scratch Parquet file (``spark_policy.sent_frame``, view ``dg_dec_explain``) kept until
    ``held`` closes."""
    from detector.decide.spark_policy import sent_frame

    features = list(model.feature_names_in_)
    matrix = to_matrix(frame.iloc[rows], features)
    cols = {_POS: pa.array(rows.astype(np.int64)),
            "account_id": pa.array(frame["account_id"].iloc[rows].astype(str).tolist())}
    cols.update({name: pa.array(matrix[:, j], from_pandas=True) for j, name in enumerate(features)})
    schema = ", ".join([f"{_POS} long", "account_id string", *(f"`{f}` double" for f in features)])
    parts = max(1, int(session.sparkContext.defaultParallelism))
    sent = sent_frame(session, settings, held, "dg_dec_explain", pa.table(cols), schema)
    return sent.repartition(parts, "account_id")


def _collect(settings: Settings, model: Any, frame: pd.DataFrame, rows: np.ndarray, top: int = 3,
             absent: list[str] | None = None) -> pd.DataFrame:
    from detector.features.engine import spark_session

    session = spark_session(settings)
    blob = pickle.dumps(model)
    broadcast = session.sparkContext.broadcast(blob)
    try:
        with ExitStack() as held:
            df = _rows_frame(session, settings, held, model, frame, rows)
            fn = _Apply(hashlib.sha256(blob).hexdigest(), broadcast, top, absent)
            got = df.mapInArrow(fn, f"{_POS} long, contributions string").toArrow().to_pandas()
    finally:
        broadcast.unpersist()
    if len(got) != len(rows):
        raise RuntimeError(f"spark explain: {len(rows)} rows sent, {len(got)} came back")
    return got.set_index(_POS).loc[rows]


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
    got = _collect(settings, model, frame, np.asarray(rows, np.int64), top, absent)
    return [[(name, float(drop)) for name, drop in json.loads(text)]
            for text in got["contributions"]]
