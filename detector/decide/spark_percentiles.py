"""The day's percentile ranks and medians of the explained features on Spark (``engine = "spark"``).

The same numbers as the driver's :func:`detector.decide.explain.percentile_ranks` (the one
definition, :func:`detector.columns.percentile.midrank_percentiles`) and
:func:`detector.decide.explain.day_medians`, computed by the executors: the feature rows are
unpivoted to (day, feature, value), nulls and NaN left out (pandas leaves them out of ranks,
counts and medians), and one window per (day, feature) ordered by value gives

- ``lower`` = ``rank() - 1`` (the values below), ``le`` = ``count`` over the default frame
  (the values below or equal: peers included), ``n`` = the (day, feature) count, so the
  percentile is ``(lower + (le - lower + 1) / 2 - 0.5) / n * 100``: pandas' average rank (an
  exact multiple of 0.5) and then the same two double operations, so the same doubles;
- the median: the values at positions ``(n + 1) div 2`` and ``n div 2 + 1`` (``row_number``),
  ``(min + max) / 2`` as pandas' groupby median computes it.

Only the percentiles of the rows to explain (the flagged account-days) and one median per day
and feature come back to the driver. Rows whose day is null belong to no day: NaN, as in pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.lake.spark import spark_session
from detector.settings import Settings

_POS, _DAY, _SEL = "_pos", "_day", "_sel"


def day_ranks(settings: Settings, frame: pd.DataFrame, features: list[str], rows: np.ndarray
              ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(percentile, median) of each of ``features`` in ``frame``, arrays aligned with ``frame``
    and filled at the positions ``rows`` only (NaN elsewhere and where the value or day is
    null), computed on the cluster over every row of each day."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    names = [f for f in features if f in frame.columns]
    pct = {f: np.full(len(frame), np.nan) for f in names}
    med = {f: np.full(len(frame), np.nan) for f in names}
    rows = np.asarray(rows, np.int64)
    if not names or len(rows) == 0:
        return pct, med
    codes = pd.factorize(frame["date"])[0].astype(np.int64)  # -1: null day
    selected = np.zeros(len(frame), bool)
    selected[rows] = True
    cols = {_POS: pa.array(np.arange(len(frame), dtype=np.int64)), _DAY: pa.array(codes),
            _SEL: pa.array(selected)}
    for j, f in enumerate(names):
        values = pd.to_numeric(frame[f], errors="coerce").astype("float64").to_numpy()
        cols[f"f{j}"] = pa.array(values, from_pandas=True)  # NaN -> null
    schema = ", ".join([f"{_POS} long, {_DAY} long, {_SEL} boolean",
                        *(f"f{j} double" for j in range(len(names)))])
    session = spark_session(settings)
    wide = session.createDataFrame(pa.table(cols), schema=schema).where(F.col(_DAY) >= 0)
    pairs = ", ".join(f"{j}, f{j}" for j in range(len(names)))
    long = wide.selectExpr(_POS, _DAY, _SEL, f"stack({len(names)}, {pairs}) AS (f, v)")
    long = long.where(F.col("v").isNotNull())
    by = Window.partitionBy(_DAY, "f")
    ordered = by.orderBy("v")
    ranked = long.select(
        _POS, _DAY, _SEL, "f", "v",
        (F.rank().over(ordered) - 1).alias("lower"), F.count(F.lit(1)).over(ordered).alias("le"),
        F.count(F.lit(1)).over(by).alias("n"), F.row_number().over(ordered).alias("rn")).persist()
    try:
        avg_rank = F.col("lower") + (F.col("le") - F.col("lower") + 1) / F.lit(2.0)
        got = ranked.where(F.col(_SEL)).select(
            _POS, "f", ((avg_rank - 0.5) / F.col("n") * 100).alias("p")).toArrow()
        middle = (F.col("rn") == F.floor((F.col("n") + 1) / 2)) | (F.col("rn") == F.floor(F.col("n") / 2) + 1)
        mids = ranked.where(middle).groupBy(_DAY, "f").agg(
            ((F.min("v") + F.max("v")) / 2).alias("m")).toArrow()
    finally:
        ranked.unpersist()
    pos, which, p = (got.column(c).to_numpy() for c in (_POS, "f", "p"))
    for j, f in enumerate(names):
        at = which == j
        pct[f][pos[at]] = p[at]
    day_median = {(int(d), int(j)): m for d, j, m in zip(
        *(mids.column(c).to_pylist() for c in (_DAY, "f", "m")), strict=True)}
    for j, f in enumerate(names):
        med[f][rows] = [np.nan if codes[r] < 0 else day_median.get((int(codes[r]), j), np.nan)
                        for r in rows]
    return pct, med
