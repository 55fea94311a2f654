"""The process's Spark session, the URIs the cluster reads the lake by (``engine = "spark"``),
the one read of request files on the executors (:func:`read_requests`), and the way a
driver-side table reaches the executors (:func:`sent_view`).

One way to get a session for every stage that runs on Spark (features, embeddings, clusters,
decide): :func:`spark_session` on ``settings.spark_master`` with ``settings.spark_conf`` over
:data:`SPARK_DEFAULTS`. It lives in the storage layer so that stages of one layer that may not
import each other (features, embeddings) share it; ``detector.features.engine`` re-exports it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import reduce
from pathlib import Path
from typing import Any

import pyarrow as pa

from detector.errors import ConfigError
from detector.lake.db import request_files
from detector.lake.io import scratch_folder, write_parquet_atomic
from detector.settings import Settings

#: Spark conf the feature queries need (UTC, exact arithmetic, Arrow transfers) and small-machine
#: defaults; ``settings.spark_conf`` is applied after these and overrides any of them.
SPARK_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

_SPARK: Any = None
_SPARK_KEY: tuple = ()


def spark_master(settings: Settings) -> str:
    """``settings.spark_master``, or ``local[threads]`` (``local[*]`` with threads = 0)."""
    return settings.spark_master or f"local[{settings.threads or '*'}]"


def spark_session(settings: Settings) -> Any:
    """The SparkSession for ``settings`` (one per process, reused while master and conf stay
    the same; a different master or conf stops it and starts another)."""
    global _SPARK, _SPARK_KEY
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("setting 'engine' is 'spark' but pyspark is not installed: "
                          "pip install 'distill-guard[spark]'") from None
    master = spark_master(settings)
    conf = {**SPARK_DEFAULTS, **dict(settings.spark_conf)}
    key = (master, tuple(sorted(conf.items())))
    if _SPARK is not None and key != _SPARK_KEY:
        _SPARK.stop()
        _SPARK = None
    if _SPARK is None:
        # the Python the executors run mapInArrow functions with is the driver's
        # PYSPARK_PYTHON when the context starts (not spark.pyspark.python, which only
        # spark-submit reads): that conf, else the variable, else this interpreter
        os.environ["PYSPARK_PYTHON"] = (conf.get("spark.pyspark.python")
                                        or os.environ.get("PYSPARK_PYTHON") or sys.executable)
        builder = SparkSession.builder.master(master).appName("distill-guard")
        for k, v in conf.items():
            builder = builder.config(k, v)
        _SPARK, _SPARK_KEY = builder.getOrCreate(), key
        _SPARK.sparkContext.setLogLevel("ERROR")
    return _SPARK


def stop_spark() -> None:
    """Stop the process's SparkSession, if any (its executors on a cluster are released)."""
    global _SPARK, _SPARK_KEY
    if _SPARK is not None:
        _SPARK.stop()
        _SPARK, _SPARK_KEY = None, ()


def spark_path(settings: Settings, path: Path) -> str:
    """The URI the cluster reads ``path`` by: under the home's lake and with
    ``settings.spark_lake_uri`` set, that URI + the path relative to the lake; otherwise
    ``file://`` + the absolute path (shared storage mounted at the same path everywhere). Not
    percent-encoded: Hadoop paths take ``date=D`` literally, ``%3D`` would name another file."""
    path = Path(path).absolute()
    if settings.spark_lake_uri:
        try:
            rel = path.relative_to(settings.lake.absolute())
        except ValueError:
            return "file://" + path.as_posix()
        return settings.spark_lake_uri.rstrip("/") + "/" + rel.as_posix()
    return "file://" + path.as_posix()


def read_requests(spark: Any, settings: Settings, days: str | Sequence[str],
                  columns: Sequence[str] | None = None, with_day: bool = False) -> Any | None:
    """The committed request files of ``days`` (a day or a list; ``lake.db.request_files``:
    sorted, days in the order given) read by URI (:func:`spark_path`) on the executors, as one
    DataFrame of ``columns`` (every column when None); None when those days have no file.

    One read of every file, the schema from the files (no option set); with ``with_day`` one
    read per day with files instead, each given a ``day`` column 'YYYY-MM-DD', and the reads
    unioned by name: ``returning_spark.SparkKeys.days_of`` groups accounts by day.
    """
    from pyspark.sql import functions as F

    days = [days] if isinstance(days, str) else list(days)
    files = {day: [spark_path(settings, p) for p in request_files(settings, day)] for day in days}
    files = {day: uris for day, uris in files.items() if uris}
    if not files:
        return None

    def read(uris: list[str]) -> Any:
        frame = spark.read.parquet(*uris)
        return frame if columns is None else frame.select(*columns)

    if not with_day:
        return read([u for uris in files.values() for u in uris])
    parts = [read(uris).withColumn("day", F.lit(day)) for day, uris in files.items()]
    return reduce(lambda a, b: a.unionByName(b), parts)


@contextmanager
def sent_view(spark: Any, settings: Settings, store: Path, view: str, table: pa.Table,
              schema: str) -> Iterator[None]:
    """Temp view ``view`` of ``table``'s rows (Spark DDL ``schema``), sent to the cluster once:
    one Parquet file in a fresh hidden ``.spark-*`` folder of ``store`` (a folder of ``date=D``
    folders, whose date-partition readers skip it: ``lake.io.scratch_folder``), read by URI
    (:func:`spark_path`), so the query plans hold a file scan. ``createDataFrame`` would put
    the rows in the plan, a local relation the optimizer copies at each reference, in the
    driver's heap. ``store`` must be on storage the executors share. The view is dropped and
    the folder removed on leaving, also on error."""
    folder = scratch_folder(store)
    try:
        path = folder / f"{view}.parquet"
        write_parquet_atomic(path, table)
        spark.read.schema(schema).parquet(spark_path(settings, path)).createOrReplaceTempView(
            view)
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        spark.catalog.dropTempView(view)
