"""The window's blocking-key pairs with the key rows built on the Spark standalone cluster (the
session's ``spark_cluster``: executors in another JVM reading the day caches' key tables by
their ``file://`` URI; ``detector/clusters/keys_spark.py``) equal the driver's bit for bit, and
the day's mean centroid summed there (``embedding_spark.centroid_mean``) is the driver's
float32 bits; the ``local[1]`` tests of ``tests/clusters/test_keys_spark.py`` and
``test_embedding_spark.py`` cover every rule, this one the executors of a real cluster."""

from __future__ import annotations

import pandas as pd
import pytest

from detector.clusters import embedding_spark, keys_spark, window
from detector.clusters.centroids import centroid_table
from detector.lake.db import connect

from ..clusters.conftest import write_lake
from ..clusters.test_embedding_spark import _write_many
from ..clusters.test_keys_spark import DAY, FAMILIES, PARAMS, _rows, _sorted
from .conftest import cluster_home, open_day_window

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def settings(spark_cluster, tmp_path_factory):
    s = cluster_home(spark_cluster, tmp_path_factory.mktemp("keys_cluster") / "home")
    write_lake(s, _rows())
    return s


def test_key_pairs_from_rows_built_on_the_cluster_equal_the_drivers(settings):
    from detector.lake.spark import spark_session

    con = connect(settings)
    try:
        open_day_window(con, settings, DAY, PARAMS)
        driver = window.key_edges(con, PARAMS, cached=True)
    finally:
        con.close()
    cluster = keys_spark.key_edges(spark_session(settings), settings, DAY, 2, PARAMS,
                                   window.key_specs(PARAMS, keys_spark.VIEWS))
    assert len(cluster) == len(FAMILIES)
    for family, want, got in zip(FAMILIES, driver, cluster, strict=True):
        assert len(want) > 0, family
        pd.testing.assert_frame_equal(_sorted(got), _sorted(want), check_exact=True)


def test_the_mean_centroid_on_the_cluster_is_the_drivers_bits(settings):
    from detector.lake.spark import spark_session

    day = "2026-11-29"
    _write_many(settings, day)
    got = embedding_spark.centroid_mean(spark_session(settings), settings, day)
    centroids, want = centroid_table(settings, day)
    assert got.tobytes() == want.tobytes()
    rows = embedding_spark.unit_centroids_of(spark_session(settings), settings, day,
                                             ["acct0001", "acct0399"], got)
    assert {a: v.tobytes() for a, v in rows.items()} == {
        a: centroids[a].tobytes() for a in ("acct0001", "acct0399")}
