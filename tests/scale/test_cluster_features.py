"""The feature stage on a Spark standalone cluster (executors in another JVM; the sample
features in their Python workers, mapInArrow)
gives the same tables as DuckDB on a small simulated scenario: counts exact, floats within
1e-9 relative (each engine adds doubles in its own order). The cluster reads the lake by its
``file://`` URI (``spark_lake_uri``), as it would on shared storage."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.features import compute
from detector.features.store import table_path
from detector.ingest import ingest_paths
from detector.lake.db import lake_dates
from detector.settings import Settings, load_settings
from detector.simulate.engine import simulate

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

TABLES = ("partials", "daily", "weekly", "history", "percentiles")


def _ingested(root, name: str, logs, **overrides) -> Settings:
    s = load_settings(root / name, **overrides)
    s.ensure_dirs()
    ingest_paths(s, [logs], progress=False, workers=1)
    return s


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


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    simulate(root / "logs", accounts=100, days=2, seed=11)
    return root


def test_features_on_cluster_match_duckdb(scenario, spark_cluster):
    logs = scenario / "logs"
    duck = _ingested(scenario, "duck", logs, engine="duckdb")
    spark = _ingested(scenario, "spark", logs, engine="spark",
                      spark_master=spark_cluster.master_url,
                      spark_conf=spark_cluster.driver_conf(),
                      spark_lake_uri=(scenario / "spark" / "lake").as_uri())
    days = lake_dates(duck)
    assert len(days) == 2 and lake_dates(spark) == days
    compute(duck, days)
    compute(spark, days)
    apps = spark_cluster.status()["activeapps"]
    assert [a["name"] for a in apps] == ["distill-guard"], "the features did not run on the cluster"
    for table in TABLES:
        for day in days:
            a = pq.read_table(table_path(duck, table, day))
            b = pq.read_table(table_path(spark, table, day))
            if table == "partials":
                a, b = a.sort_by("account_id"), b.sort_by("account_id").select(a.column_names)
            assert_same_table(a, b, f"{table}/{day}")
