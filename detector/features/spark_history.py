"""The own-history (``hist_``) inputs on Spark (``engine = "spark"``).

:func:`detector.features.history.history_expr` runs on Spark over views whose rows never pass
through the driver: the executors read the stored Parquet files by URI
(:func:`detector.lake.spark.spark_path`; the features folder must be on storage every executor
reaches at the same path, as for the 7-day windows):

- ``dg_hist_days``: the ``features/partials`` of the batch's days (its target days and the
  LOOKBACK days before each; files without rows left out), left-joined on (account_id, date)
  with ``div_word_ngram_entropy`` of the same days' ``features/daily`` (null where the day has
  no daily file or the account no row); ``day`` is the stored ``date`` as a day number;
- ``dg_hist_first``: ``features/first_seen/part-0.parquet``, whose merge of newly stored days
  runs here too (:func:`merge_first_seen`: the days' account ids and the stored table grouped
  by account on the executors); only its rows, one per account, come back to be written.

Files written by another engine or code version may differ in column types: one read per
distinct schema of the columns used, each cast to the types the DuckDB path binds, unioned.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import reduce
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from detector.features import store
from detector.features.engine import Engine
from detector.lake.spark import spark_path, spark_session
from detector.settings import Settings

#: ``dg_hist_days``' columns and Spark types: those :func:`history._day_rows` binds on DuckDB.
DAY_TYPES = {"account_id": "string", "day": "int", "n": "bigint", "in_tok": "bigint",
             "out_tok": "bigint", "length_n": "bigint", "finish_n": "bigint",
             "word_entropy": "double"}
WORD_ENTROPY = "div_word_ngram_entropy"
#: Most files one read lists on the driver (a 28-day window's batch reads up to 35).
LIST_ON_DRIVER = 64
FIRST_SCHEMA = pa.schema([("account_id", pa.string()), ("first_day", pa.int32())])


def _day_number(date_col: Any) -> Any:
    from pyspark.sql import functions as F

    return F.datediff(date_col, F.to_date(F.lit("1970-01-01"))).cast("int")


def _read_parquet(spark: Any, uris: list[str]) -> Any:
    """``spark.read.parquet(*uris)``, the files listed by the driver up to LIST_ON_DRIVER of
    them (a window's few dozen files: Spark would otherwise list more than 32 paths with a
    job of one task per path, which costs more than the listing)."""
    key = "spark.sql.sources.parallelPartitionDiscovery.threshold"
    before = spark.conf.get(key)
    spark.conf.set(key, str(max(int(before), min(len(uris), LIST_ON_DRIVER))))
    try:
        return spark.read.parquet(*uris)
    finally:
        spark.conf.set(key, before)


def read_columns(spark: Any, settings: Settings, paths: list[Path], columns: list[str]) -> Any | None:
    """``columns`` of the Parquet files ``paths`` (existing, with rows) as one DataFrame read by
    the executors, or None when no file has rows. One read per distinct (name, type) set of
    ``columns`` among the files; a column a file lacks is null."""
    from pyspark.sql import functions as F

    groups: dict[tuple, list[str]] = {}
    for p in paths:
        if not p.exists():
            continue
        meta = pq.read_metadata(p)
        if meta.num_rows == 0:
            continue
        schema = meta.schema.to_arrow_schema()
        key = tuple((c, str(schema.field(c).type)) for c in columns if c in schema.names)
        groups.setdefault(key, []).append(spark_path(settings, p))
    frames = []
    for key, uris in groups.items():
        have = {c for c, _ in key}
        df = _read_parquet(spark, uris)
        frames.append(df.select(*[F.col(c) if c in have else F.lit(None).alias(c) for c in columns]))
    if not frames:
        return None
    return reduce(lambda a, b: a.unionByName(b), frames)


def days_frame(settings: Settings, days: list[str]) -> Any:
    """``dg_hist_days``' rows for the stored ``days`` (see the module docstring)."""
    from pyspark.sql import functions as F

    spark = spark_session(settings)
    counts = [c for c in DAY_TYPES if c not in ("account_id", "day", "word_entropy")]
    part = read_columns(spark, settings, [store.table_path(settings, "partials", d) for d in days],
                        ["account_id", "date", *counts])
    if part is None:
        schema = ", ".join(f"{c} {t}" for c, t in DAY_TYPES.items())
        return spark.createDataFrame([], schema)
    daily = read_columns(spark, settings, [store.table_path(settings, "daily", d) for d in days],
                         ["account_id", "date", WORD_ENTROPY])
    if daily is None:
        rows = part.withColumn("word_entropy", F.lit(None))
    else:
        daily = daily.select(F.col("account_id").alias("d_account"), F.col("date").alias("d_date"),
                             F.col(WORD_ENTROPY).alias("word_entropy"))
        rows = part.join(daily, (part.account_id == daily.d_account) & (part.date == daily.d_date), "left")
    return rows.select(
        F.col("account_id").cast("string").alias("account_id"),
        _day_number(F.col("date")).alias("day"),
        *[F.col(c).cast(t).alias(c) for c, t in DAY_TYPES.items() if c not in ("account_id", "day")])


@contextmanager
def bound_days(eng: Engine, view: str, days: list[str]) -> Iterator[None]:
    """View ``view`` = :func:`days_frame` of ``days`` while the block runs, persisted on the
    executors (the history query reads it several times) and released after."""
    df = days_frame(eng.settings, days).persist()
    try:
        eng.bind_frame(view, df)
        yield
    finally:
        df.unpersist()


def merge_first_seen(settings: Settings, stored: Path | None, days: list[str]) -> pa.Table:
    """(account_id, first_day int32) merging the stored first-seen table at ``stored`` (None:
    none yet) with the accounts of ``days``' partials, grouped on the executors."""
    from pyspark.sql import functions as F

    spark = spark_session(settings)
    frames = []
    if stored is not None:
        frames.append(_read_parquet(spark, [spark_path(settings, stored)])
                      .select(F.col("account_id").cast("string"), F.col("first_day").cast("int")))
    part = read_columns(spark, settings, [store.table_path(settings, "partials", d) for d in days],
                        ["account_id", "date"])
    if part is not None:
        frames.append(part.select(F.col("account_id").cast("string").alias("account_id"),
                                  _day_number(F.col("date")).alias("first_day")))
    if not frames:
        return FIRST_SCHEMA.empty_table()
    both = reduce(lambda a, b: a.unionByName(b), frames)
    got = both.groupBy("account_id").agg(F.min("first_day").alias("first_day")).toArrow()
    return got.select(FIRST_SCHEMA.names).cast(FIRST_SCHEMA).sort_by("account_id")


def bind_first(eng: Engine, view: str, path: Path) -> None:
    """View ``view`` = the stored first-seen table, read by the executors."""
    from pyspark.sql import functions as F

    spark = spark_session(eng.settings)
    df = spark.read.parquet(spark_path(eng.settings, path))
    eng.bind_frame(view, df.select(F.col("account_id").cast("string"), F.col("first_day").cast("int")))
