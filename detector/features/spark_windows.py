"""The 7-day window and population percentile tables of one day on Spark (``engine = "spark"``).

The same definitions as the driver's path (:func:`detector.features.compute.weekly_table` and
:func:`detector.features.percentiles.percentile_table`), run by the executors over the stored
``features/partials`` and ``features/daily`` Parquet files read by URI
(:func:`detector.lake.spark.spark_path`; the features folder must be on storage every executor
reaches at the same path):

- window: the partials of the 7 days ending on the day (days without a file or without rows
  left out), ``groupBy(account_id)`` combining each column per ``WINDOW_AGG`` (a sum of nothing
  is 0, as in pandas; max and min of nothing are null) plus the count of days as
  ``w7_days_active``; the catalog formulas (:func:`detector.features.derive.feature_frame`, per
  row) applied to each partition with ``mapInArrow``;
- percentiles: every numeric column of the day's daily and weekly rows unpivoted to
  (column, value), nulls and NaN dropped, each column's values collected and sorted
  (``groupBy`` the column), and numpy's 'linear' quantile at each q of ``GRID`` read from the
  sorted values (index ``(n - 1) q``, the same lerp), so the values are those of
  ``np.quantile``, exactly.

Only the day's weekly rows (one per account active in the window) and its quantile grid (one
row per column and q) come back to the driver, which writes them with the feature store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import reduce
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from detector.features import catalog, derive, store
from detector.features.partials import LEGACY_GAP_SUMS, WINDOW_AGG
from detector.features.percentiles import GRID, SCHEMA
from detector.lake.spark import spark_path, spark_session
from detector.settings import Settings

KEYS = ("account_id", "date")


def weekly_schema() -> pa.Schema:
    """``features/weekly``'s schema as :func:`detector.features.derive.to_arrow` writes it."""
    fields = [pa.field("account_id", pa.string()), pa.field("date", pa.date32())]
    for c in derive.weekly_value_columns():
        whole = c.removeprefix("w7_") in catalog.INT_FEATURES or c == "w7_days_active"
        fields.append(pa.field(c, pa.int64() if whole else pa.float64()))
    return pa.schema(fields)


class WeeklyRows:
    """``mapInArrow`` function: combined window partials -> ``features/weekly`` rows of ``day``
    (the catalog formulas are per row, so any partitioning gives the same rows)."""

    def __init__(self, day: str):
        self.day = day

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        schema = weekly_schema()
        for batch in batches:
            if batch.num_rows == 0:
                continue
            combined = batch.to_pandas()
            combined["date"] = dt.date.fromisoformat(self.day)
            yield from derive.weekly_rows(combined).cast(schema).to_batches()


def window_tables(settings: Settings, day: str) -> tuple[pa.Table | None, pa.Table]:
    """(``features/weekly`` rows or None when no partials fall in the window, the
    ``features/percentiles`` grid) of ``day``, computed on the Spark cluster."""
    spark = spark_session(settings)
    sources = []
    daily = store.table_path(settings, "daily", day)
    if daily.exists():
        sources.append(spark.read.parquet(spark_path(settings, daily)))
    weekly_df = weekly_frame(spark, settings, day)
    if weekly_df is None:
        return None, percentile_grid(spark, day, sources)
    weekly_df = weekly_df.persist()
    try:
        weekly = weekly_df.toArrow().select(weekly_schema().names).cast(weekly_schema())
        grid = percentile_grid(spark, day, [*sources, weekly_df])
    finally:
        weekly_df.unpersist()
    return weekly.sort_by("account_id"), grid


def weekly_frame(spark: Any, settings: Settings, day: str) -> Any | None:
    """Spark DataFrame of the window's ``features/weekly`` rows (None: no partials in it)."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    found = [store.table_path(settings, "partials", d) for d in store.window_days(day)]
    meta = {p: pq.read_metadata(p) for p in found if p.exists()}
    paths = [p for p, m in meta.items() if m.num_rows > 0]
    if not paths:
        return None
    uris = [spark_path(settings, p) for p in paths]
    schemas = [meta[p].schema.to_arrow_schema() for p in paths]
    if all(s == schemas[0] for s in schemas):
        both = spark.read.parquet(*uris)
    else:
        # days written by another engine or code version differ in column types (widened by
        # the union), lack a column (null there) or hold the gap sums under their old names
        # (converted): one read per day, unioned by name
        frames = [_legacy_gap_sums(spark.read.parquet(u)) for u in uris]
        both = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    both = both.where(F.col("account_id").isNotNull())
    aggs = [F.count(F.lit(1)).alias("w7_days_active")]
    for c, how in WINDOW_AGG.items():
        if how == "none" or c not in both.columns:
            continue
        if how == "sum":
            aggs.append(F.coalesce(F.sum(c), F.lit(0)).alias(c))
        elif how == "max":
            aggs.append(F.max(c).alias(c))
        elif how == "min":
            aggs.append(F.min(c).alias(c))
        else:
            raise ValueError(f"WINDOW_AGG[{c!r}]: unknown combination {how!r} "
                             "(expected sum, max, min or none)")
    combined = both.groupBy("account_id").agg(*aggs)
    return combined.mapInArrow(WeeklyRows(day), from_arrow_schema(weekly_schema()))


def _legacy_gap_sums(df: Any) -> Any:
    """One day's stored partials with the current gap sums (as
    :func:`detector.features.derive.legacy_gap_sums`: old float seconds to whole milliseconds)."""
    from pyspark.sql import functions as F

    for old, new, factor in LEGACY_GAP_SUMS:
        if new not in df.columns and old in df.columns:
            df = df.withColumn(new, F.round(F.col(old) * factor).cast("long")).drop(old)
    return df


def percentile_grid(spark: Any, day: str, frames: list[Any]) -> pa.Table:
    """``features/percentiles`` of ``day`` over the numeric columns of ``frames`` (in order,
    keys excluded): the exact quantile at each q of GRID, as ``np.quantile`` ('linear')."""
    from pyspark.sql import functions as F

    names: list[str] = []
    longs = []
    for df in frames:
        cols = [c for c in df.columns if c not in KEYS]
        if not cols:
            continue
        pairs = ", ".join(f"{len(names) + i}, CAST(`{c}` AS DOUBLE)" for i, c in enumerate(cols))
        longs.append(df.selectExpr(f"stack({len(cols)}, {pairs}) AS (ord, value)"))
        names += cols
    if not longs:
        return SCHEMA.empty_table()
    values = reduce(lambda a, b: a.unionByName(b), longs)
    values = values.where(F.col("value").isNotNull() & ~F.isnan("value"))
    # each column's values sorted in one array (one task holds a column: 8 bytes per account)
    cols = values.groupBy("ord").agg(F.sort_array(F.collect_list("value")).alias("v"))
    cols = cols.withColumn("n", F.size("v"))
    grid = spark.createDataFrame([(float(q),) for q in GRID], "q double")
    # numpy 'linear': virtual index (n - 1) q, its floor and the next index (both clipped to
    # the last value), weight the fractional part; lerp a + (b - a) t, or b - (b - a)(1 - t)
    # from t = 0.5 (numpy's own two-sided form, so the doubles are the same)
    vi = (F.col("n") - 1).cast("double") * F.col("q")
    lo = F.least(F.floor(vi), F.col("n") - 1)
    at = cols.crossJoin(F.broadcast(grid)).select(
        "ord", "q", "n", (vi - F.floor(vi)).alias("t"),
        F.element_at("v", (lo + 1).cast("int")).alias("a"),
        F.element_at("v", F.least(lo + 2, F.col("n")).cast("int")).alias("b"))
    d = F.col("b") - F.col("a")
    value = F.when(F.col("t") >= 0.5, F.col("b") - d * (1 - F.col("t"))).otherwise(F.col("a") + d * F.col("t"))
    got = at.select("ord", "q", value.alias("value"), "n").toArrow()
    got = got.sort_by([("ord", "ascending"), ("q", "ascending")])
    ords = got.column("ord").to_pylist()
    return pa.table({
        "date": pa.array([dt.date.fromisoformat(day)] * got.num_rows, pa.date32()),
        "feature": pa.array([names[o] for o in ords], pa.string()),
        "q": got.column("q").cast(pa.float64()),
        "value": got.column("value").cast(pa.float64()),
        "n_accounts": got.column("n").cast(pa.int64()),
    }, schema=SCHEMA)
