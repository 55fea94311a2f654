"""The whole scoring job with ``engine = "spark"`` on the standalone cluster (features, the
blocking-key pairs and connected components of the account graph, classifier scoring and
explanations on the executors) gives the same clusters, per-account cluster features and
verdicts as DuckDB on the session's scenario (``scale_job`` in conftest); and the cluster's key
pairing and components match the in-process ones on random inputs with popular keys, floors and
long chains."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from detector.clusters import keys, spark_sql, store
from tests.spark_support import key_rows_connection

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def _same_frame(a: pd.DataFrame, b: pd.DataFrame, by: list[str], where: str,
                exact: bool = False) -> None:
    """Same rows by ``by``; floats within 1e-9 relative (with ``exact``, the same values),
    everything else exact."""
    assert list(a.columns) == list(b.columns), where
    a = a.sort_values(by, kind="stable").reset_index(drop=True)
    b = b.sort_values(by, kind="stable").reset_index(drop=True)
    assert len(a) == len(b), where
    for c in a.columns:
        if exact and pd.api.types.is_float_dtype(a[c]) and pd.api.types.is_float_dtype(b[c]):
            np.testing.assert_array_equal(a[c].to_numpy(), b[c].to_numpy(), f"{where}.{c}")
        elif pd.api.types.is_float_dtype(a[c]) and pd.api.types.is_float_dtype(b[c]):
            np.testing.assert_allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=1e-9, atol=1e-12,
                                       equal_nan=True, err_msg=f"{where}.{c}")
        else:
            assert a[c].astype(str).tolist() == b[c].astype(str).tolist(), f"{where}.{c}"


def test_clusters_on_cluster_match_duckdb(scale_job):
    clustered = 0
    for day in scale_job.days:
        for name, by in (("members", ["cluster_id", "account_id"]),
                         ("clusters", ["cluster_id"]),
                         ("edges", ["src", "dst", "edge_type", "window"])):
            a = store.read(scale_job.duck, day, name)
            b = store.read(scale_job.spark, day, name)
            assert a is not None and b is not None, f"{name}/{day} missing"
            _same_frame(a, b, by, f"{name}/{day}")
        clustered += len(store.read(scale_job.duck, day, "members"))
        # every active account's cluster features: written by an executor, renamed by the driver
        a, b = (pq.read_table(store.feature_path(s, day)) for s in (scale_job.duck, scale_job.spark))
        assert a.num_rows > 0 and b.equals(a), f"features/cluster/{day}"
    assert clustered > 0, "the scenario formed no cluster: nothing was compared"


def test_verdicts_on_cluster_match_duckdb(scale_job):
    from detector.verdicts import read

    cols = ["account_id", "date", "decision", "score", "model_score", "anomaly_score", "risk",
            "reasons", "cluster_id", "rule_hits", "explanation_json"]
    a, b = read(scale_job.duck, columns=cols), read(scale_job.spark, columns=cols)
    assert len(a) == len(b) > 0
    assert (a["decision"] != "allow").any(), "nothing flagged: no explanation was compared"
    for c in ("account_id", "date", "decision", "reasons", "cluster_id"):
        assert a[c].astype(str).tolist() == b[c].astype(str).tolist(), c
    for c in ("score", "model_score", "anomaly_score", "risk"):
        assert a[c].round(6).tolist() == b[c].round(6).tolist(), c
    assert [list(x) for x in a["rule_hits"]] == [list(x) for x in b["rule_hits"]]
    assert [json.loads(x) for x in a["explanation_json"]] == \
        [json.loads(x) for x in b["explanation_json"]]


@pytest.fixture(scope="module")
def key_rows():
    """Random key rows: 120 accounts over 60 keys in 3 slots, factors, some null keys."""
    con = key_rows_connection(1, null_every=17)
    yield con
    con.close()


@pytest.mark.parametrize("kw", [{"weigh": "one"}, {"normalize": True, "min_weight": 0.2},
                                {"min_weight": 0.3}, {"weigh": "factor", "min_weight": 0.1}])
def test_key_pairs_on_cluster_match_duckdb(scale_job, key_rows, kw):
    spark = spark_sql.session(scale_job.spark)
    sql = "SELECT key, slot, account_id, factor FROM t"
    a = keys.key_pairs(key_rows, "ip", sql, 6, **kw)
    b = keys.key_pairs(key_rows, "ip", sql, 6, spark=spark, **kw)
    assert len(a) > 0
    # pair weights are summed exactly (detector/clusters/exact.py): the same bits on both
    _same_frame(a, b, ["src", "dst"], f"key_pairs {kw}", exact=True)


def test_star_pairs_on_cluster_match_duckdb(scale_job, key_rows):
    spark = spark_sql.session(scale_job.spark)
    sql = "SELECT key, account_id FROM t"
    a = keys.star_pairs(key_rows, "payment", sql, 3)
    b = keys.star_pairs(key_rows, "payment", sql, 3, spark=spark)
    assert len(a) > 0
    _same_frame(a, b, ["src", "dst", "evidence"], "star_pairs")


def test_components_on_cluster_match_networkx(scale_job):
    rng = np.random.default_rng(2)
    src = [f"n{rng.integers(0, 300)}" for _ in range(200)]
    dst = [f"n{rng.integers(0, 300)}" for _ in range(200)]
    chain = [f"c{i:02d}" for i in range(12)]  # a long path: labels travel 11 hops
    src, dst = src + chain[1:], dst + chain[:-1]
    got = spark_sql.components(spark_sql.session(scale_job.spark), src, dst)
    g = nx.Graph()
    g.add_edges_from(zip(src, dst, strict=True))
    assert sorted(map(sorted, got)) == sorted(map(sorted, nx.connected_components(g)))
    assert sorted(chain) in [sorted(c) for c in got]
