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

:func:`view_day_ranks` reads the feature rows from the Spark view of the day's rows
(``detector.features.spark_assemble``) where they are; only the keys of the rows to explain go
to the cluster (a scratch Parquet file read by URI: ``spark_policy.sent_frame``). Only the
percentiles of the rows to explain (the flagged account-days) and one median per day and
feature come back to the driver. Rows whose day is null belong to no day:
NaN, as in pandas.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.decide import spark_policy
from detector.lake.spark import spark_session
from detector.settings import Settings

_POS, _DAY, _SEL = "_pos", "_day", "_sel"


def view_day_ranks(settings: Settings, view: str, frame: pd.DataFrame, features: list[str],
                   rows: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(percentile, median) of each of ``features`` that the Spark temp view ``view``
    (``detector.features.spark_assemble``) has, computed on the cluster over every row of each
    of its days, read where they are: only the (account_id, date) keys of ``frame``'s rows at
    ``rows`` go to the cluster. Arrays aligned with ``frame``, filled at the positions ``rows``
    only (NaN elsewhere and where the value or day is null)."""
    from pyspark.sql import functions as F

    session = spark_session(settings)
    table = session.table(f"`{view}`")
    names = [f for f in features if f in table.columns]
    pct, med = _unfilled(len(frame), names)
    rows = np.asarray(rows, np.int64)
    if not names or len(rows) == 0:
        return pct, med
    days = pd.to_datetime(frame["date"])
    codes = np.where(days.isna(), -1, (days - pd.Timestamp("1970-01-01")).dt.days.fillna(-1)
                     ).astype(np.int64)  # the day number, as datediff gives it
    chosen = pa.table({"_pacc": pa.array(frame["account_id"].astype(str).to_numpy()[rows]),
                       "_dn": pa.array(codes[rows]), _POS: pa.array(rows)})
    cols = [F.col("account_id").cast("string").alias("_acc"),
            F.datediff(F.col("date"), F.to_date(F.lit("1970-01-01"))).cast("long").alias(_DAY)]
    for j, f in enumerate(names):  # pd.to_numeric as float64, NaN -> null
        v = F.col(f"`{f}`").cast("double")
        cols.append(F.when(F.isnan(v), F.lit(None)).otherwise(v).alias(f"f{j}"))
    with ExitStack() as held:  # the keys: a scratch file in the verdict folder, gone on leaving
        picked = spark_policy.sent_frame(session, settings, held, "dg_dec_ranked", chosen,
                                         "_pacc string, _dn long, _pos long")
        wide = table.select(*cols).where(F.col(_DAY).isNotNull()).join(
            F.broadcast(picked), (F.col("_acc") == F.col("_pacc")) & (F.col(_DAY) == F.col("_dn")),
            "left").select(F.coalesce(F.col(_POS), F.lit(-1)).alias(_POS), _DAY,
                           F.col(_POS).isNotNull().alias(_SEL), *(f"f{j}" for j in range(len(names))))
        got, mids = _ranked(wide, len(names))
    _fill(pct, med, names, got, mids, rows, codes)
    return pct, med


def _unfilled(n: int, names: list[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(percentiles, medians): an all-NaN array of ``n`` per feature, filled by :func:`_fill`."""
    return ({f: np.full(n, np.nan) for f in names}, {f: np.full(n, np.nan) for f in names})


def _ranked(wide: Any, count: int) -> tuple[pa.Table, pa.Table]:
    """(_pos, f, p) of the selected rows and (_day, f, m) medians, from ``wide``: columns
    ``_pos``, ``_day``, ``_sel`` and ``f0`` .. ``f{count - 1}``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    pairs = ", ".join(f"{j}, f{j}" for j in range(count))
    long = wide.selectExpr(_POS, _DAY, _SEL, f"stack({count}, {pairs}) AS (f, v)")
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
    return got, mids


def _fill(pct: dict[str, np.ndarray], med: dict[str, np.ndarray], names: list[str],
          got: pa.Table, mids: pa.Table, rows: np.ndarray, codes: np.ndarray) -> None:
    """Put the cluster's percentiles and medians at ``rows`` of ``pct`` and ``med``."""
    pos, which, p = (got.column(c).to_numpy() for c in (_POS, "f", "p"))
    for j, f in enumerate(names):
        at = which == j
        pct[f][pos[at]] = p[at]
    day_median = {(int(d), int(j)): m for d, j, m in zip(
        *(mids.column(c).to_pylist() for c in (_DAY, "f", "m")), strict=True)}
    for j, f in enumerate(names):
        med[f][rows] = [np.nan if codes[r] < 0 else day_median.get((int(codes[r]), j), np.nan)
                        for r in rows]
