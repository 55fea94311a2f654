"""The ``account_features`` view on Spark (``engine = "spark"``): the rows the decide stage
scores, assembled by the executors from the stored files read by URI.

The same rows and columns as :func:`detector.features.assemble.account_features` on DuckDB:
the ``features/daily`` rows of the requested days, left-joined on (account_id, date) with the
optional ``weekly``, ``history``, ``coverage`` and ``cluster`` tables (a table with no file at
all contributes no columns). Only the requested days' files are read
(:func:`detector.lake.spark.spark_path`; the features folder must be on storage every executor
reaches at the same path); their columns and types are those DuckDB's ``union_by_name`` gives
over every day's file of the table, from the files' Parquet footers (read on the driver, no
rows): a column another day has and these days lack is null, a column whose type differs
between days is read as the widened type (e.g. bigint and double: double).

The view is registered as a Spark temp view named :data:`VIEW`; nothing is collected.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from detector.errors import InputError
from detector.features import store
from detector.features.assemble import OPTIONAL, VIEW, _iso
from detector.lake.spark import spark_path, spark_session
from detector.settings import Settings

KEYS = ("account_id", "date")


def _files(folder: Path) -> list[Path]:
    """Every Parquet file under ``folder`` DuckDB's view reads (names starting with '.' are
    temporary, never read)."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith("."))


def table_schema(files: list[Path]) -> pa.Schema:
    """The columns and types of the union by name of ``files`` (their footers only); ``date``
    as a date whether a file stores it or only its ``date=D`` folder names it."""
    schemas = [pq.read_schema(p) for p in files]
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    if "date" in unified.names:
        unified = unified.set(unified.get_field_index("date"), pa.field("date", pa.date32()))
    else:
        unified = unified.append(pa.field("date", pa.date32()))
    return unified


def _spark_type(t: pa.DataType) -> str:
    from pyspark.sql.pandas.types import from_arrow_type

    if pa.types.is_large_string(t):
        t = pa.string()
    return from_arrow_type(t).simpleString()


def _read_day(spark: Any, settings: Settings, path: Path, day: str, schema: pa.Schema) -> Any:
    """One day's file as a DataFrame with exactly ``schema``'s columns and types."""
    from pyspark.sql import functions as F

    df = spark.read.parquet(spark_path(settings, path))
    cols = []
    for f in schema:
        if f.name == "date" and "date" not in df.columns:
            cols.append(F.lit(dt.date.fromisoformat(day)).cast("date").alias("date"))
        elif f.name in df.columns:
            cols.append(F.col(f"`{f.name}`").cast(_spark_type(f.type)).alias(f.name))
        else:
            cols.append(F.lit(None).cast(_spark_type(f.type)).alias(f.name))
    return df.select(*cols)


def _table(spark: Any, settings: Settings, folder: str, days: list[str]) -> Any | None:
    """The table's rows of ``days`` (None when the table has no file at all)."""
    files = _files(settings.features_dir / folder)
    if not files:
        return None
    schema = table_schema(files)
    parts = [_read_day(spark, settings, p, d, schema) for d in days
             if (p := store.table_path(settings, folder, d)).exists()]
    if not parts:
        ddl = ", ".join(f"`{f.name}` {_spark_type(f.type)}" for f in schema)
        return spark.createDataFrame([], ddl)
    return reduce(lambda a, b: a.unionByName(b), parts)


def spark_account_features(settings: Settings, dates: list[str]) -> str:
    """Register Spark temp view ``account_features`` restricted to ``dates``; return its name.

    Raises InputError when ``features/daily`` has no data yet (run the feature stage first)."""
    from pyspark.sql import functions as F

    spark = spark_session(settings)
    days = [_iso(d) for d in dates]
    daily = _table(spark, settings, "daily", days)
    if daily is None:
        raise InputError(f"no daily features under {settings.features_dir / 'daily'}: "
                         "run the feature stage (detector run) first")
    joined = daily.alias("d")
    select = [F.col(f"d.`{c}`") for c in daily.columns]
    for folder, view in OPTIONAL:
        table = _table(spark, settings, folder, days)
        if table is None:
            continue
        extra = [c for c in table.columns if c not in KEYS]
        if not extra:
            continue
        alias = view.removeprefix("_af_")
        joined = joined.join(table.alias(alias), on=(
            (F.col(f"{alias}.account_id") == F.col("d.account_id"))
            & (F.col(f"{alias}.date") == F.col("d.date"))), how="left")
        select += [F.col(f"{alias}.`{c}`") for c in extra]
    wanted = [dt.date.fromisoformat(d) for d in days]
    out = joined.select(*select).where(F.col("date").isin(wanted) if wanted else F.lit(False))
    out.createOrReplaceTempView(VIEW)
    return VIEW
