"""The feature stage on a Spark standalone cluster (executors in another JVM; the sample
features in their Python workers, mapInArrow)
gives the same tables as DuckDB on a small simulated scenario: counts exact, floats within
1e-9 relative (each engine adds doubles in its own order). The cluster reads the lake by its
``file://`` URI (``spark_lake_uri``), as it would on shared storage. The tables are those of
the session's whole job (``scale_job`` in conftest)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.features.store import table_path

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

TABLES = ("partials", "daily", "weekly", "history", "percentiles")


def assert_same_table(a: pa.Table, b: pa.Table, where: str) -> None:
    """Same columns, same rows; exact for ids, dates, integers and strings, 1e-9 for floats."""
    assert a.column_names == b.column_names, where
    assert a.num_rows == b.num_rows > 0, where
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if x.type != y.type or not pa.types.is_floating(x.type):
            assert x.to_pylist() == y.to_pylist(), f"{where}.{name}"
        else:
            np.testing.assert_allclose(x.to_numpy(zero_copy_only=False),
                                       y.to_numpy(zero_copy_only=False), rtol=1e-9, atol=1e-12,
                                       equal_nan=True, err_msg=f"{where}.{name}")


def test_features_on_cluster_match_duckdb(scale_job):
    duck, spark, days = scale_job.duck, scale_job.spark, scale_job.days
    assert len(days) == 2
    assert scale_job.apps == ["distill-guard"], "the job did not run on the cluster"
    for table in TABLES:
        for day in days:
            a = pq.read_table(table_path(duck, table, day))
            b = pq.read_table(table_path(spark, table, day))
            if table == "partials":
                a, b = a.sort_by("account_id"), b.sort_by("account_id").select(a.column_names)
            assert_same_table(a, b, f"{table}/{day}")
