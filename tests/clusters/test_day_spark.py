"""The clusters stage of one day with ``engine = "spark"`` (``local[1]``: key pairs, template,
timing and centroid edges, pair scoring and connected components on Spark) writes the same
edges (weights, evidence, pair scores, link flags), members and cluster features as on DuckDB,
on the constructed scenario (a hydra, a campus NAT, a reseller, background users) with stored
centroids that put the hydra on one topic.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.clusters import pipeline, store
from detector.settings import load_settings
from tests.spark_support import spark_marks

from .conftest import DAY, scenario, write_lake

pytestmark = spark_marks(pytest.mark.timeout(300))


def _write_centroids(settings, accounts: list[str], width: int = 32) -> None:
    rng = np.random.default_rng(3)
    topic = rng.normal(size=width)
    vecs = [(topic if a.startswith("hydra") else 0.0) + rng.normal(scale=0.25, size=width)
            for a in accounts]
    path = store.centroid_path(settings, DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"account_id": accounts,
                             "date": pa.array([pd.Timestamp(DAY).date()] * len(accounts)),
                             "centroid": pa.array([v.astype(np.float32).tolist() for v in vecs],
                                                  pa.list_(pa.float32()))}), path)


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    from detector.features.engine import stop_spark

    root = tmp_path_factory.mktemp("day_spark")
    rows, truth = scenario()
    out = []
    for name, kw in (("duck", {}), ("spark", {"engine": "spark", "spark_master": "local[1]"})):
        s = load_settings(root / name, **kw)
        s.ensure_dirs()
        write_lake(s, rows)
        _write_centroids(s, sorted(truth))
        pipeline.compute(s, [DAY])
        out.append(s)
    try:
        yield out
    finally:
        stop_spark()


@pytest.mark.parametrize("table", ["edges", "members", "clusters", "id_map"])
def test_day_tables_on_spark_equal_duckdbs(homes, table):
    duck, spark = homes
    want, got = store.read(duck, DAY, table), store.read(spark, DAY, table)
    if table == "edges":  # every family the day has, the hydra's centroid edges among them
        assert {"payment", "timing", "embedding"} <= set(want["edge_type"])
        assert want["linked"].any() and not want["linked"].all()
    assert len(want) > 0
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_cluster_features_on_spark_equal_duckdbs(homes):
    duck, spark = homes
    want = pq.read_table(store.feature_path(duck, DAY))
    got = pq.read_table(store.feature_path(spark, DAY))
    assert want.num_rows > 40 and got.equals(want)
    # the node table on the executors: the summary's count of active accounts is DuckDB's
    counts = [orjson.loads((store.day_dir(s, DAY) / "summary.json").read_bytes())["accounts"]
              for s in homes]
    assert counts == [want.num_rows] * 2
    # the executors' file was renamed into place: no hidden folder is left behind
    assert not list((spark.features_dir / "cluster").glob(".spark-*"))
