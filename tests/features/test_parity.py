"""The same feature definitions on DuckDB and on Spark give the same tables.

Runs when pyspark and a Java runtime are available (the ``spark`` extra); skipped otherwise,
except under CI (``CI=true``), where ``.ci/run`` installs Java and a missing runtime is a failure.
Counts must match exactly; floats within 1e-9 relative (sums of doubles are added in a
different order by each engine). No approximate aggregate is used in the definitions.
"""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
from synth import requests_table

from detector.features import compute, spark_windows
from detector.features.compute import window_tables
from detector.features.store import table_path
from detector.settings import load_settings
from tests.spark_support import spark_marks

from .feat_data import write_day

pytestmark = spark_marks()

DAYS = ["2026-06-01", "2026-06-02"]


def _home(tmp_path, name):
    s = load_settings(tmp_path / name)
    s.ensure_dirs()
    for i, day in enumerate(DAYS):
        t = requests_table(day, 3000, 60, seed=i, models=("m-a", "m-b") if i == 0 else ("m-a", "m-new"))
        path = write_day(s, day, [])
        pq.write_table(t, path)
    return s


def _compare(a, b, table):
    assert a.column_names == b.column_names, table
    assert a.num_rows == b.num_rows > 0, table
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if name in ("account_id", "date") or x.type.id != y.type.id or str(x.type) in ("int64", "string", "date32[day]"):
            assert x.to_pylist() == y.to_pylist(), f"{table}.{name}"
        else:
            xv = x.to_numpy(zero_copy_only=False).astype(float)
            yv = y.to_numpy(zero_copy_only=False).astype(float)
            np.testing.assert_allclose(xv, yv, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=f"{table}.{name}")


def test_duckdb_and_spark_agree(tmp_path, monkeypatch):
    duck, spark = _home(tmp_path, "duck"), _home(tmp_path, "spark")
    compute(duck, DAYS, engine_name="duckdb")
    on_spark = []
    real = spark_windows.window_tables
    monkeypatch.setattr(spark_windows, "window_tables", lambda s, d: on_spark.append(d) or real(s, d))
    compute(spark, DAYS, engine_name="spark")
    # the weekly and percentile tables below came from Spark: the stage's engine chose it,
    # not the setting (still the default)
    assert on_spark == DAYS and spark.engine == "duckdb"
    for table in ("partials", "daily", "weekly", "history", "percentiles"):
        for day in DAYS:
            a = pq.read_table(table_path(duck, table, day))
            b = pq.read_table(table_path(spark, table, day))
            if table == "partials":
                a, b = a.sort_by("account_id"), b.sort_by("account_id").select(a.column_names)
            _compare(a, b, f"{table}/{day}")
    _windows_on_spark(tmp_path, duck, spark, real)


def _windows_on_spark(tmp_path, duck, spark, spark_tables):
    """Spark's weekly and percentile tables equal the driver's for the same partials (equal
    above), on a day whose window mixes a day of partials written by DuckDB with one written by
    Spark (their column types differ; the driver's pandas window is taken over the DuckDB
    home's days, as it cannot combine those types) and that has no daily rows (percentiles
    over the weekly columns only), and on a day with nothing in its window. The Spark session
    above is reused."""
    mixed = load_settings(tmp_path / "mixed")
    for home, day in ((duck, DAYS[0]), (spark, DAYS[1])):
        dest = table_path(mixed, "partials", day)
        dest.parent.mkdir(parents=True)
        shutil.copyfile(table_path(home, "partials", day), dest)
    w_duck, p_duck = window_tables(duck, "2026-06-05", "duckdb")
    w_spark, p_spark = spark_tables(mixed, "2026-06-05")
    _compare(w_duck, w_spark, "weekly on spark, mixed window")
    _compare(p_duck, p_spark, "percentiles on spark, mixed window")
    assert set(p_spark.column("feature").to_pylist()) <= set(w_duck.column_names)
    assert w_spark.column("w7_days_active").to_pylist() != [1] * w_spark.num_rows
    w_none, p_none = spark_tables(mixed, "2026-07-01")
    assert w_none is None and p_none.num_rows == 0
