"""Pair scoring on Spark (``local[1]``; ``detector/clusters/scoring_spark.py``) gives the
driver's ``scoring.best_edges`` + ``scoring.score_pairs`` bit for bit: typed edges of every
family in two windows, with ties in weight (same window: the first row wins; other window: the
shorter name wins), payment links, corroborated links and pairs that link on neither.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector.clusters import daycache, scoring_spark
from detector.clusters.params import FAMILIES, ClusterParams
from detector.clusters.scoring import best_edges, score_pairs
from detector.settings import load_settings
from tests.spark_support import spark_marks

pytestmark = spark_marks(pytest.mark.timeout(300))

PARAMS = ClusterParams()


def _edges(n_pairs: int = 400, seed: int = 5) -> pd.DataFrame:
    """Typed edges (the window's columns) with tied and random weights, evidence naming the
    row, so the strongest row chosen shows in the evidence."""
    rng = np.random.default_rng(seed)
    accounts = [f"acc_{k:02d}" for k in range(45)]
    types = list(FAMILIES)
    rows = []
    seen = set()
    while len(seen) < n_pairs:
        a, b = sorted(rng.choice(accounts, 2, replace=False).tolist())
        seen.add((a, b))
    for a, b in sorted(seen):
        for _ in range(int(rng.integers(1, 7))):
            w = float(rng.choice([0.2, 0.35, 0.5, 1.0, rng.uniform(0.05, 1.0)]))
            rows.append((a, b, str(rng.choice(types)), w, str(rng.choice(["1d", "7d"]))))
            if rng.uniform() < 0.2:  # the same type and weight again: a tie
                rows.append((a, b, rows[-1][2], w, str(rng.choice(["1d", "7d"]))))
    e = pd.DataFrame(rows, columns=["src", "dst", "edge_type", "weight", "window"])
    e["evidence"] = [f'{{"row": {k}}}' for k in range(len(e))]
    return e[["src", "dst", "edge_type", "weight", "evidence", "window"]]


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return load_settings(tmp_path_factory.mktemp("scoring") / "home", engine="spark",
                         spark_master="local[1]")


@pytest.fixture(scope="module")
def spark(settings):
    from detector.features.engine import stop_spark
    from detector.lake.spark import spark_session

    try:
        yield spark_session(settings)
    finally:
        stop_spark()


def test_pair_scores_on_spark_equal_the_drivers(spark, settings):
    edges = _edges()
    want_best = best_edges(edges)
    want = score_pairs(want_best, PARAMS)
    best, pairs = scoring_spark.score(spark, settings, edges, PARAMS)
    # the data reach every rule: ties, payment links, corroborated links, unlinked pairs
    ties = edges.duplicated(["src", "dst", "edge_type", "weight"], keep=False)
    assert ties.sum() > 50 and len(want_best) < len(edges)
    assert want["linked"].any() and not want["linked"].all()
    assert (want["linked"] & (want["payment"] < 1.0)).any()
    assert (want["score"] != want["score"].round(2)).any()  # sums of random weights
    pd.testing.assert_frame_equal(pairs, want, check_exact=True)
    order = ["src", "dst", "edge_type"]
    pd.testing.assert_frame_equal(best.sort_values(order, ignore_index=True),
                                  want_best.sort_values(order, ignore_index=True),
                                  check_exact=True)


def test_edges_reach_the_plan_as_a_file_scan_and_the_scratch_goes(spark, settings):
    """The edges are read from a scratch Parquet file in the home's cluster cache, not
    copied into the plan as a local relation; the scratch folder and the view are gone after
    the query, after ``score`` and when the block fails."""
    edges, root = _edges(n_pairs=30), daycache.cache_root(settings)
    with scoring_spark.score_query(spark, settings, edges, PARAMS) as query:
        qe = query._jdf.queryExecution()
        optimized, plan = qe.optimizedPlan().toString(), qe.executedPlan().toString()
        (scratch,) = root.glob(".spark-*")
        assert (scratch / "dg_sc_edges.parquet").as_uri() in query.inputFiles()
        assert query.count() == 30
    assert "LocalRelation" not in optimized and "LocalTableScan" not in plan, plan
    assert not scratch.exists() and not spark.catalog.tableExists("dg_sc_edges")

    best, pairs = scoring_spark.score(spark, settings, edges, PARAMS)
    assert len(pairs) == 30 and not list(root.glob(".spark-*"))

    with (pytest.raises(RuntimeError, match="boom"),
          scoring_spark.score_query(spark, settings, edges, PARAMS)):
        raise RuntimeError("boom")
    assert not list(root.glob(".spark-*")) and not spark.catalog.tableExists("dg_sc_edges")


def test_no_edges_ask_nothing_of_spark(settings):
    empty = _edges().iloc[:0]
    best, pairs = scoring_spark.score(None, settings, empty, PARAMS)  # no session
    assert best.empty and pairs.empty
    assert list(pairs.columns) == list(score_pairs(empty, PARAMS).columns)
