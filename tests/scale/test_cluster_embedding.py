"""The clusters stage's centroid edges and pair scoring on the Spark standalone cluster (the
session's ``spark_cluster``: executors in another JVM reading the stored centroids by their
``file://`` URI) equal the driver's bit for bit; the ``local[1]`` tests of
``tests/clusters/test_embedding_spark.py`` and ``test_scoring_spark.py`` cover every rule,
this one the executors of a real cluster."""

from __future__ import annotations

from itertools import combinations

import pandas as pd
import pytest

from detector.clusters import embedding_spark, scoring_spark, window
from detector.clusters.centroids import centroid_table
from detector.clusters.scoring import best_edges, score_pairs

from ..clusters.test_embedding_spark import DAY, MIN_COS, _write_centroids
from ..clusters.test_scoring_spark import PARAMS, _edges
from .conftest import cluster_home

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def settings(spark_cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("emb_cluster")
    return cluster_home(spark_cluster, root / "home")


def test_centroid_edges_and_pair_scores_on_cluster_equal_the_drivers(settings):
    from detector.lake.spark import spark_session

    accounts = _write_centroids(settings, DAY)
    cands = pd.DataFrame(list(combinations(sorted(accounts), 2)), columns=["src", "dst"])
    centroids, mean = centroid_table(settings, DAY)
    spark = spark_session(settings)
    driver = window.embedding_edges(centroids, cands, MIN_COS)
    got = embedding_spark.embedding_edges(spark, settings, DAY, cands, mean, MIN_COS)
    assert len(driver) >= 10
    pd.testing.assert_frame_equal(got, driver, check_exact=True)

    edges = _edges()
    want_best = best_edges(edges)
    best, pairs = scoring_spark.score(spark, settings, edges, PARAMS)
    pd.testing.assert_frame_equal(pairs, score_pairs(want_best, PARAMS), check_exact=True)
    order = ["src", "dst", "edge_type"]
    pd.testing.assert_frame_equal(best.sort_values(order, ignore_index=True),
                                  want_best.sort_values(order, ignore_index=True),
                                  check_exact=True)
