"""The decide stage's reads of request rows on Spark (``engine = "spark"``).

The request files are read by the URIs the feature stage uses (``detector.lake.db.request_files``,
``spark_path``: ``spark_lake_uri`` or the lake's ``file://`` path) on the executors; a set of
accounts goes to them as a broadcast table, and only per-account rows come back:

- :func:`org_ids`: each account's organisation, ``min(org_id)`` over every lake day (the DuckDB
  path's ``GROUP BY`` over the ``requests`` view, the same rows);
- :func:`read_requests` / :func:`accounts_frame`: what ``returning_spark`` builds its key
  queries on.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from typing import Any

import pandas as pd
import pyarrow as pa

from detector.lake.db import lake_dates, request_files
from detector.lake.spark import spark_path, spark_session
from detector.settings import Settings


def read_requests(settings: Settings, days: list[str], columns: list[str],
                  with_day: bool = False) -> Any | None:
    """A Spark DataFrame of ``columns`` of the committed request files of ``days`` (with
    ``with_day``, a ``day`` column 'YYYY-MM-DD' too); None when those days have no file."""
    from pyspark.sql import functions as F

    spark = spark_session(settings)
    files = {day: [spark_path(settings, p) for p in request_files(settings, day)] for day in days}
    files = {day: uris for day, uris in files.items() if uris}
    if not files:
        return None
    if not with_day:  # one read of every file
        return spark.read.parquet(*[u for uris in files.values() for u in uris]).select(*columns)
    parts = [spark.read.parquet(*uris).select(*columns).withColumn("day", F.lit(day))
             for day, uris in files.items()]
    return reduce(lambda a, b: a.unionByName(b), parts)


def accounts_frame(settings: Settings, accounts: Iterable[str]) -> Any:
    """A one-column (account_id) Spark DataFrame of the distinct ``accounts``."""
    names = sorted({str(a) for a in accounts})
    return spark_session(settings).createDataFrame(
        pa.table({"account_id": pa.array(names, pa.string())}), "account_id string")


def org_ids(settings: Settings, accounts: Iterable[str]) -> pd.DataFrame:
    """Rows (account_id, org_id) of ``accounts`` that have requests in the lake: the smallest
    org id of their requests over every lake day (null when none has one), computed on the
    executors."""
    from pyspark.sql import functions as F

    wanted = accounts_frame(settings, accounts)
    requests = read_requests(settings, lake_dates(settings), ["account_id", "org_id"])
    if requests is None:
        return pd.DataFrame({"account_id": pd.Series(dtype=object),
                             "org_id": pd.Series(dtype=object)})
    got = (requests.join(F.broadcast(wanted), "account_id", "left_semi")
           .groupBy("account_id").agg(F.min("org_id").alias("org_id")))
    return got.toPandas()
