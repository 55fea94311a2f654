"""The clusters stage's centroid (embedding) edges computed on Spark (``local[1]``: the cosines in
a Python worker by ``mapInArrow``; ``detector/clusters/embedding_spark.py``) equal the driver's
(``window.embedding_edges`` over ``centroids.centroid_table``) bit for bit, on stored centroids
with near-duplicate pairs, accounts without a centroid (null, empty list, no row) and pairs
naming them.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.clusters import centroids as centroids_mod
from detector.clusters import daycache, embedding_spark, exact, store, window
from detector.clusters.centroids import centroid_table
from detector.clusters.keys import PAIR_COLUMNS
from detector.settings import load_settings
from tests.spark_support import spark_marks

pytestmark = spark_marks(pytest.mark.timeout(300))

DAY = "2026-11-28"
MIN_COS = 0.3


def _write_centroids(settings, day: str, width: int = 48) -> list[str]:
    """Stored centroids as the embeddings stage writes them (list<float32>): 4 topics with 5
    accounts each (noisy copies), 6 loners, one null and one empty centroid."""
    rng = np.random.default_rng(7)
    topics = rng.normal(size=(4, width)).astype(np.float32)
    ids, vecs = [], []
    for t in range(4):
        for k in range(5):
            ids.append(f"t{t}_{k}")
            vecs.append(topics[t] + rng.normal(scale=0.6, size=width).astype(np.float32))
    for k in range(6):
        ids.append(f"solo_{k}")
        vecs.append(rng.normal(size=width).astype(np.float32))
    values = [v.tolist() for v in vecs] + [None, []]
    table = pa.table({"account_id": ids + ["null_c", "empty_c"],
                      "date": pa.array([pd.Timestamp(day).date()] * (len(ids) + 2)),
                      "centroid": pa.array(values, pa.list_(pa.float32()))})
    path = store.centroid_path(settings, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return ids + ["null_c", "empty_c", "no_row"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from detector.features.engine import stop_spark

    s = load_settings(tmp_path_factory.mktemp("emb_edges") / "home", engine="spark",
                      spark_master="local[1]")
    s.ensure_dirs()
    accounts = _write_centroids(s, DAY)
    cands = pd.DataFrame(list(combinations(sorted(accounts), 2)), columns=["src", "dst"])
    try:
        yield s, cands
    finally:
        stop_spark()


def test_centroid_edges_on_spark_equal_the_drivers(home):
    from detector.lake.spark import spark_session

    s, cands = home
    centroids, mean = centroid_table(s, DAY)
    assert len(centroids) == 26 and isinstance(mean, np.ndarray)
    driver = window.embedding_edges(centroids, cands, MIN_COS)
    spark = embedding_spark.embedding_edges(spark_session(s), s, DAY, cands, mean, MIN_COS)
    # the data reach both sides of the threshold, and pairs without centroids are dropped
    assert 10 <= len(driver) < len(cands) // 4
    assert not set(driver["src"]) & {"empty_c", "no_row", "null_c"}
    assert list(spark.columns) == list(PAIR_COLUMNS)
    pd.testing.assert_frame_equal(spark, driver, check_exact=True)


def test_every_cosine_is_the_drivers_float32(home):
    from detector.lake.spark import spark_session

    s, cands = home
    centroids, mean = centroid_table(s, DAY)
    got = embedding_spark.pair_cosines(spark_session(s), s, DAY, cands, mean)
    ok = cands["src"].isin(centroids.keys()) & cands["dst"].isin(centroids.keys())
    want = cands[ok].assign(cos=window._pair_cosines(centroids, cands.loc[ok, "src"].tolist(),
                                                     cands.loc[ok, "dst"].tolist()))
    got = got.sort_values(["src", "dst"], ignore_index=True)
    want = want.sort_values(["src", "dst"], ignore_index=True)
    assert got["cos"].dtype == np.float32 and want["cos"].dtype == np.float32
    assert len(got) == 26 * 25 // 2
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_pairs_reach_the_plan_as_a_file_scan_and_the_scratch_goes(home):
    """The pairs (and the clustered accounts of ``unit_centroids_of``) are read from a scratch
    Parquet file in the home's cluster cache, not copied into the plan as a local relation;
    the scratch folder and the view are gone after the query and when the block fails."""
    from detector.lake.spark import spark_session

    s, cands = home
    _, mean = centroid_table(s, DAY)
    spark, root = spark_session(s), daycache.cache_root(s)
    with embedding_spark.cosine_query(spark, s, DAY, cands, mean) as query:
        qe = query._jdf.queryExecution()
        optimized, plan = qe.optimizedPlan().toString(), qe.executedPlan().toString()
        (scratch,) = root.glob(".spark-*")
        assert (scratch / "dg_emb_pairs.parquet").as_uri() in query.inputFiles()
        assert query.count() == 26 * 25 // 2
    assert "LocalRelation" not in optimized and "LocalTableScan" not in plan, plan
    assert not scratch.exists() and not spark.catalog.tableExists("dg_emb_pairs")

    rows = embedding_spark.unit_centroids_of(spark, s, DAY, ["t0_0", "no_row"], mean)
    assert list(rows) == ["t0_0"]
    assert not list(root.glob(".spark-*")) and not spark.catalog.tableExists("dg_emb_wanted")

    with (pytest.raises(RuntimeError, match="boom"),
          embedding_spark.cosine_query(spark, s, DAY, cands, mean)):
        raise RuntimeError("boom")
    assert not list(root.glob(".spark-*")) and not spark.catalog.tableExists("dg_emb_pairs")


def test_no_candidates_or_no_centroids_ask_nothing_of_spark(tmp_path):
    s = load_settings(tmp_path / "home", engine="spark")
    empty = pd.DataFrame({"src": pd.Series(dtype=object), "dst": pd.Series(dtype=object)})
    pairs = pd.DataFrame({"src": ["a"], "dst": ["b"]})
    for cands in (empty, pairs):  # no session: any Spark call would fail
        out = embedding_spark.embedding_edges(None, s, DAY, cands, 0.0, MIN_COS)
        assert out.empty and list(out.columns) == list(PAIR_COLUMNS)


def _write_many(settings, day: str, n: int = 400, width: int = 48) -> list[str]:
    """``n`` centroids in row groups of 25 (several Spark partitions), one empty."""
    rng = np.random.default_rng(11)
    ids = [f"acct{k:04d}" for k in range(n)]
    vecs = [(rng.normal(size=width) * rng.uniform(0.01, 3)).astype(np.float32).tolist()
            for _ in ids]
    vecs[7] = []
    path = store.centroid_path(settings, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"account_id": ids,
                             "centroid": pa.array(vecs, pa.list_(pa.float32()))}), path,
                   row_group_size=25)
    return ids


def test_the_mean_centroid_on_spark_is_the_drivers_bits(home):
    """The mean is an exact sum per dimension: the cluster's partitions, the driver's batches
    and a shuffled order all give the same float32 bits."""
    from detector.lake.spark import spark_session

    s, _ = home
    day = "2026-11-29"
    ids = _write_many(s, day)
    spark = spark_session(s)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    try:
        assert spark.read.parquet(str(store.centroid_path(s, day))).rdd.getNumPartitions() > 1
        got = embedding_spark.centroid_mean(spark, s, day)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    centroids, want = centroid_table(s, day)
    assert len(centroids) == len(ids) - 1
    assert got.dtype == np.float32 and got.tobytes() == want.tobytes()
    x = np.array([v for v in pq.read_table(store.centroid_path(s, day))
                  .column("centroid").to_pylist() if v], dtype=np.float32)
    perm = np.random.default_rng(1).permutation(len(x))
    hi, lo = exact.parts(x[perm])
    shuffled = centroids_mod.mean_from_sums(hi.sum(axis=0), lo.sum(axis=0), len(x))
    assert shuffled.tobytes() == want.tobytes()
    np.testing.assert_allclose(want, x.astype(np.float64).mean(axis=0), rtol=1e-6, atol=1e-7)
    # the clustered accounts' rows fetched from the cluster are centroid_table's rows
    named = ["acct0003", "acct0007", "acct0100", "nobody"]
    rows = embedding_spark.unit_centroids_of(spark, s, day, named, got)
    assert sorted(rows) == ["acct0003", "acct0100"]
    for a, v in rows.items():
        assert v.tobytes() == centroids[a].tobytes()


def test_no_centroid_file_no_mean_and_mixed_lengths_fail_on_spark(home):
    from detector.errors import InputError
    from detector.lake.spark import spark_session

    s, _ = home
    spark = spark_session(s)
    assert embedding_spark.centroid_mean(spark, s, "2026-01-01") is None
    assert embedding_spark.unit_centroids_of(spark, s, "2026-01-01", ["a"], None) == {}
    day = "2026-11-30"
    path = store.centroid_path(s, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"account_id": ["a", "b"],
                             "centroid": pa.array([[1.0, 2.0], [1.0]], pa.list_(pa.float32()))}),
                   path)
    for compute in (lambda: centroid_table(s, day),
                    lambda: embedding_spark.centroid_mean(spark, s, day)):
        with pytest.raises(InputError, match="mixed lengths"):
            compute()
