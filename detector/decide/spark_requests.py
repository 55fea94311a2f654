"""The decide stage's reads of request rows on Spark (``engine = "spark"``).

The request files are read on the executors by ``detector.lake.spark.read_requests`` (the URIs
the feature stage uses: ``spark_lake_uri`` or the lake's ``file://`` path), and joined there with
a set of accounts (a Spark DataFrame); only per-account rows come back, or none:

- :func:`org_ids_frame`: each account's organisation, ``min(org_id)`` over every lake day (the
  DuckDB path's ``GROUP BY`` over the ``requests`` view, ``scoring.org_ids``), a DataFrame the
  policy joins on the executors (``spark_policy.decide_view``); nothing comes to the driver;
- :func:`accounts_frame` (named accounts, sent as a scratch Parquet file and joined as a
  broadcast table): what ``returning_spark`` joins its request reads with.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ExitStack
from typing import Any

import pyarrow as pa

from detector.lake.db import lake_dates
from detector.lake.spark import read_requests, spark_session
from detector.settings import Settings


def accounts_frame(settings: Settings, accounts: Iterable[str], held: ExitStack,
                   view: str = "dg_dec_accounts") -> Any:
    """A one-column (account_id) Spark DataFrame of the distinct ``accounts``: one scratch
    Parquet file in a hidden folder of the verdict folder, read by URI
    (``spark_policy.sent_frame``, view ``view``) until ``held`` closes, not rows in the plan."""
    from detector.decide.spark_policy import sent_frame

    names = sorted({str(a) for a in accounts})
    table = pa.table({"account_id": pa.array(names, pa.string())})
    return sent_frame(spark_session(settings), settings, held, view, table, "account_id string")


def org_ids_frame(settings: Settings, accounts: Any) -> Any | None:
    """(account_id, org_id) of the accounts of the Spark DataFrame ``accounts`` (one column,
    account_id) that have requests in the lake: the smallest org id of their requests over every
    lake day (null when none has one), on the executors; nothing is collected. None when the
    lake has no request file."""
    from pyspark.sql import functions as F

    requests = read_requests(spark_session(settings), settings, lake_dates(settings),
                             ["account_id", "org_id"])
    if requests is None:
        return None
    return (requests.join(accounts, "account_id", "left_semi")
            .groupBy("account_id").agg(F.min("org_id").alias("org_id")))
