"""The day cache's tables computed and written on a Spark cluster (``engine = "spark"``).

``detector.clusters.daycache.build_day`` calls :func:`write_day` with the tables' SQL
(``daycache.day_sql`` for Spark, over view :data:`VIEW`): the day's request files are read by
URI (``detector.lake.spark.read_requests``), each table's ``GROUP BY`` runs on the executors,
and each result is written by one task as one Parquet file (zstd) into a temporary folder
beside its target in the cache folder, which the driver then renames onto ``<table>.parquet``
(an atomic rename: a reader sees the whole file or none) and deletes. Only file names and row
counts come back to the driver.

The cache folder (``clusters/cache`` under the home) must be on storage every executor and the
driver reach at the same path (``spark_path`` gives it as a ``file://`` URI), as the features'
stored partials are for the Spark windows. Rows, order and column types are DuckDB's
(``tests/scale/test_cluster_daycache.py``).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from detector.lake.io import current_umask, fsync_dir
from detector.lake.schema import REQUEST_SCHEMA
from detector.lake.spark import read_requests, spark_path
from detector.settings import Settings

#: The temporary view of the day's requests (with an account) that the tables' SQL reads.
VIEW = "dg_clusters_day"

#: Request columns the tables read.
COLUMNS = ("account_id", "ts", "client_ip", "ip_prefix", "user_agent", "payment_fingerprint",
           "max_tokens", "temperature", "logprobs", "top_logprobs", "system_hash",
           "prompt_text", "prompt_hash")


def day_view(spark: Any, settings: Settings, day: str) -> None:
    """Create view :data:`VIEW`: the ``COLUMNS`` of the day's committed request files, rows
    with an account (none without files)."""
    frame = read_requests(spark, settings, day, COLUMNS)
    if frame is None:
        frame = spark.createDataFrame([], schema=_ddl(REQUEST_SCHEMA))
    frame.where("account_id IS NOT NULL").createOrReplaceTempView(VIEW)


def _ddl(schema: Any) -> str:
    """Spark DDL of the ``COLUMNS`` of Arrow ``schema``."""
    kinds = {"string": "string", "timestamp[us, tz=UTC]": "timestamp", "int64": "bigint",
             "int32": "int", "double": "double", "bool": "boolean"}
    return ", ".join(f"{f.name} {kinds[str(schema.field(f.name).type)]}"
                     for f in (schema.field(c) for c in COLUMNS))


def write_day(spark: Any, settings: Settings, day: str, sqls: dict[str, str],
              folder: Path) -> tuple[dict[str, int], dict[str, float]]:
    """Run each table's SQL over the day (view :data:`VIEW`) and write it to
    ``folder/<table>.parquet``; returns (rows, seconds) per table, ``read`` for the view."""
    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    day_view(spark, settings, day)
    rows, seconds = {}, {"read": round(time.perf_counter() - t0, 2)}
    try:
        for name, sql in sqls.items():
            t = time.perf_counter()
            target = folder / f"{name}.parquet"
            _write_one(spark, settings, sql, target)
            seconds[name] = round(time.perf_counter() - t, 2)
            rows[name] = pq.ParquetFile(target).metadata.num_rows
    finally:
        spark.catalog.dropTempView(VIEW)
    return rows, seconds


def _write_one(spark: Any, settings: Settings, sql: str, target: Path) -> None:
    """``sql``'s rows as one Parquet file at ``target``: written by the cluster into a fresh
    hidden folder beside it (one partition, so one file in the query's order), then renamed."""
    tmp = target.parent / f".{target.name}.spark-{uuid.uuid4().hex}"
    try:
        (spark.sql(sql).coalesce(1).write.mode("errorifexists").option("compression", "zstd")
         .parquet(spark_path(settings, tmp)))
        parts = sorted(p for p in tmp.glob("part-*") if p.name.endswith(".parquet"))
        if len(parts) != 1:
            raise RuntimeError(f"clusters day cache on Spark: expected one Parquet part file in "
                               f"{tmp} for {target.name}, found {len(parts)} (is {tmp.parent} "
                               f"on storage the executors share with the driver?)")
        with open(parts[0], "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(parts[0], 0o666 & ~current_umask())
        os.replace(parts[0], target)
        fsync_dir(target.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
