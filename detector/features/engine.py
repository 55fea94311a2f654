"""Ibis backends the feature definitions run on: DuckDB (default, embedded) or Spark (optional
extra ``distill-guard[spark]``). Both read the same Parquet lake and return Arrow tables.

Spark runs on ``settings.spark_master`` (a cluster: ``spark://``, ``yarn``, ``k8s://``; or
``local[n]``) with ``settings.spark_conf``; its executors read the request files by the URIs
:func:`spark_path` gives (``settings.spark_lake_uri``: the lake on shared storage), the driver
lists them in its own lake folder (docs/scale.md).

Inputs are bound to fixed view names (``dg_day``, ``dg_first_seen``...) so that each Ibis
expression is built and compiled to SQL once per process and engine kind, then re-run for
every day: building and compiling the ~50-column expression costs seconds, running it on a
small day costs milliseconds.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from detector.errors import ConfigError
from detector.lake.db import silence
from detector.lake.schema import REQUEST_SCHEMA
from detector.lake.spark import (  # noqa: F401  (re-exported: the one way to a session)
    SPARK_DEFAULTS,
    spark_master,
    spark_path,
    spark_session,
    stop_spark,
)
from detector.settings import Settings

_COMPILED: dict[tuple, str] = {}

#: DuckDB buffer memory cap for the feature queries; above it DuckDB spills to SPILL_DIR, which
#: keeps the stage's peak RSS bounded (issue goal: under 6 GiB at 10M requests a day).
DUCKDB_MEMORY_LIMIT = "4GB"
SPILL_DIR = Path(tempfile.gettempdir()) / "distill-guard-duckdb"


class Engine:
    """A thin wrapper: bind Parquet files or Arrow tables to view names, run expressions.

    ``timings`` accumulates wall seconds per phase (``compile:<key>``, ``execute:<key>`` and
    whatever callers add with :meth:`timed`), for profiling and the benchmark.
    """

    def __init__(self, name: str, backend: Any, settings: Settings | None = None):
        self.name = name
        self.backend = backend
        self.settings = settings
        self.timings: dict[str, float] = {}
        self._columns: dict[str, tuple[str, ...]] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the wall seconds of the ``with`` block to ``timings[name]``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        """``fn()``, adding its wall seconds to ``timings[name]``."""
        with self.phase(name):
            return fn()

    def bind_parquet(self, view: str, files: list[Path]) -> None:
        """View ``view`` = the requests stored in ``files`` (Parquet with REQUEST_SCHEMA)."""
        paths = [str(p) for p in files]
        if not paths:
            self.bind_arrow(view, REQUEST_SCHEMA.empty_table())
        elif self.name == "spark":
            if self.settings is not None:
                paths = [spark_path(self.settings, p) for p in files]
            self.backend._session.read.parquet(*paths).createOrReplaceTempView(view)
        else:
            quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            self.backend.raw_sql(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM "
                                 f"read_parquet([{quoted}], union_by_name = true)")
        self._columns[view] = tuple(self._view_columns(view))

    def bind_arrow(self, view: str, table: pa.Table) -> None:
        if self.name == "spark":
            session = self.backend._session
            session.createDataFrame(table.to_pandas(), schema=_spark_schema(table.schema)) \
                .createOrReplaceTempView(view)
        else:
            self.backend.con.register(view, table)
        self._columns[view] = tuple(table.column_names)

    def bind_frame(self, view: str, df: Any) -> None:
        """View ``view`` = the Spark DataFrame ``df`` (Spark only: its rows stay on the executors)."""
        if self.name != "spark":
            raise ValueError(f"engine {self.name!r}: bind_frame({view!r}) takes a Spark DataFrame, "
                             "only the 'spark' engine binds one")
        df.createOrReplaceTempView(view)
        self._columns[view] = tuple(df.columns)

    def _view_columns(self, view: str) -> list[str]:
        if self.name == "spark":
            return list(self.backend._session.table(view).columns)
        return list(self.backend.con.table(view).columns)

    def table(self, view: str) -> ir.Table:
        return self.backend.table(view)

    def _sql(self, key: str, build: Callable[[], ir.Table]) -> str:
        """SQL of ``build()``, compiled once per engine kind, ``key`` and set of bound views'
        columns (a lake written before a column existed compiles differently)."""
        cache_key = (self.name, key, tuple(sorted(self._columns.items())))
        sql = _COMPILED.get(cache_key)
        if sql is None:
            sql = self.timed(f"compile:{key}", lambda: str(self.backend.compile(build())))
            _COMPILED[cache_key] = sql
        return sql

    def run_map(self, key: str, build: Callable[[], ir.Table], fn: Callable[[pa.Table], pa.Table],
                schema: pa.Schema, by: str) -> pa.Table:
        """``fn`` over the result of ``build()``, whose rows ``fn`` needs whole groups of by
        column ``by``; ``fn`` returns a table of ``schema``, rows in any order.

        DuckDB: in this process over the whole result. Spark: on the executors, the result
        repartitioned by ``by`` and ``fn`` applied to each partition (``mapInArrow``), so only
        ``fn``'s output reaches the driver. ``fn`` must be importable on the executors."""
        if self.name != "spark":
            table = self.run(key, build)
            return self.timed(f"map:{key}", lambda: fn(table).cast(schema))
        sql = self._sql(key, build)
        df = (self.backend._session.sql(sql).repartition(by)
              .mapInArrow(ArrowPartition(fn, schema), _spark_schema(schema)))
        return self.timed(f"execute:{key}", lambda: df.toArrow().cast(schema))

    def run(self, key: str, build: Callable[[], ir.Table]) -> pa.Table:
        """Execute the expression ``build()`` (SQL compiled once, see :meth:`_sql`)."""
        sql = self._sql(key, build)
        if self.name == "spark":
            return self.timed(f"execute:{key}", lambda: self.backend._session.sql(sql).toArrow())
        return self.timed(f"execute:{key}", lambda: self.backend.con.sql(sql).to_arrow_table())

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        return self.backend.to_pyarrow(expr)

    def close(self) -> None:
        if self.name == "duckdb":
            self.backend.disconnect()


class ArrowPartition:
    """``mapInArrow`` function: the partition's record batches as one table -> ``fn`` -> batches
    of ``schema`` (nothing for an empty partition). Pickled to the executors by reference."""

    def __init__(self, fn: Callable[[pa.Table], pa.Table], schema: pa.Schema):
        self.fn, self.schema = fn, schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        got = list(batches)
        if got:
            yield from self.fn(pa.Table.from_batches(got)).cast(self.schema).to_batches()


def connect(settings: Settings, name: str | None = None) -> Engine:
    """The engine named by ``name`` or ``settings.engine`` ('duckdb' or 'spark')."""
    name = name or settings.engine
    if name == "duckdb":
        return Engine("duckdb", _duckdb(settings))
    if name == "spark":
        return Engine("spark", _spark(settings), settings)
    raise ConfigError(f"setting 'engine': expected 'duckdb' or 'spark', got {name!r}")


def _duckdb(settings: Settings) -> Any:
    con = ibis.duckdb.connect()
    silence(con.con)  # no progress bar on stdout: see lake.db.open_duckdb
    con.raw_sql("SET TimeZone = 'UTC'")
    con.raw_sql(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    con.raw_sql(f"SET temp_directory = '{str(SPILL_DIR).replace(chr(39), chr(39) * 2)}'")
    if settings.threads:
        con.raw_sql(f"SET threads = {int(settings.threads)}")
    return con


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql import types as T

    kinds = {pa.string(): T.StringType(), pa.int64(): T.LongType(), pa.int32(): T.IntegerType(),
             pa.float64(): T.DoubleType(), pa.bool_(): T.BooleanType()}
    fields = []
    for f in schema:
        kind = T.TimestampType() if pa.types.is_timestamp(f.type) else kinds.get(f.type, T.StringType())
        fields.append(T.StructField(f.name, kind, True))
    return T.StructType(fields)


def _spark(settings: Settings) -> Any:
    """An Ibis backend over :func:`spark_session`."""
    return ibis.pyspark.connect(spark_session(settings))
