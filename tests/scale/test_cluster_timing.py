"""The clusters stage's timing edges on the Spark standalone cluster (the session's
``spark_cluster``; ``detector/clusters/timing_spark.py``) equal the driver's
(``timing.lockstep_stats`` + ``timing_pairs`` over ``window.minute_matrix``), weights bit for
bit, on a generated two-day window: a round-robin pair (lockstep), a pair bursting in the same
minutes (correlation), a pair close in totals that drifts apart within the day (passes the
totals rule, fails the lead), busy and quiet accounts (below the active-minute floor), and
every pair of them as candidates."""

from __future__ import annotations

from datetime import timedelta
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from detector.clusters import daycache, timing, timing_spark, window
from detector.clusters.params import ClusterParams
from detector.lake.db import connect
from detector.settings import load_settings

from ..clusters.conftest import T0, req, write_lake
from .conftest import cluster_home, open_day_window

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DAY = (T0 + timedelta(days=1)).date().isoformat()
PARAMS = ClusterParams(lockstep_min_events=20, timing_min_minutes=3)


def _rows() -> list[dict]:
    rng = np.random.default_rng(3)
    rows = []

    def add(acct: str, seconds: float) -> None:
        rows.append(req(acct, T0 + timedelta(seconds=float(seconds)), f"p {acct} {len(rows)}"))

    for d in (0, 1):
        base = d * 86400
        stream = np.sort(rng.uniform(0, 86400, 60))  # round robin over two accounts
        for k, t in enumerate(stream):
            add("rr_a" if k % 2 else "rr_b", base + t)
        for t in rng.uniform(0, 86400, 15):  # bursts in the same minutes
            for acct in ("burst_a", "burst_b"):
                for _ in range(int(rng.integers(1, 4))):
                    add(acct, base + t + rng.uniform(0, 50))
        for t in np.sort(rng.uniform(0, 43200, 30)):  # same totals, one in the morning only
            add("drift_a", base + t)
        for t in np.sort(rng.uniform(43200, 86400, 30)):
            add("drift_b", base + t)
        for acct, n in (("busy", 200), ("quiet", 1)):
            for t in rng.uniform(0, 86400, n):
                add(acct, base + t)
    return rows


@pytest.fixture(scope="module")
def edges(spark_cluster, tmp_path_factory):
    from detector.lake.spark import spark_session

    root = tmp_path_factory.mktemp("timing")
    s = cluster_home(spark_cluster, root / "home")
    write_lake(s, _rows())
    accounts = ["burst_a", "burst_b", "busy", "drift_a", "drift_b", "quiet", "rr_a", "rr_b"]
    cands = pd.DataFrame(list(combinations(accounts, 2)), columns=["src", "dst"])
    con = connect(s)
    try:
        open_day_window(con, s, DAY, PARAMS)
        mm = window.minute_matrix(con, accounts, DAY, 2, cached=True)
    finally:
        con.close()
    p = PARAMS
    lock = timing.lockstep_stats(mm, cands, p.lockstep_min_events, p.lockstep_max_events,
                                 p.lockstep_max_lead)
    driver = timing.timing_pairs(mm, cands, p.timing_min_corr, p.timing_min_minutes, lock,
                                 p.lockstep_max_lead)
    cluster, fetch = timing_spark.timing_edges(spark_session(s), s, DAY, 2, cands, p)
    return mm, lock, driver, cluster, fetch


def test_timing_edges_on_cluster_equal_the_drivers(edges):
    mm, lock, driver, cluster, _ = edges
    # the data reach every rule: lockstep, correlation, the lead test failing, the floor
    assert set(lock["src"] + "-" + lock["dst"]) >= {"rr_a-rr_b"}
    assert "drift_a-drift_b" not in set(driver["src"] + "-" + driver["dst"])
    ev = driver.set_index(["src", "dst"])["evidence"]
    assert "max_lead" in ev[("rr_a", "rr_b")] and "minute_corr" in ev[("burst_a", "burst_b")]
    assert (mm.active_minutes() < PARAMS.timing_min_minutes).any()
    pd.testing.assert_frame_equal(cluster.reset_index(drop=True), driver.reset_index(drop=True),
                                  check_dtype=False, check_exact=True)


def test_minute_rows_of_named_candidates(edges):
    mm, _, _, _, fetch = edges
    got = fetch(["burst_a", "rr_b", "nobody"])
    assert got.accounts == ["burst_a", "rr_b"]
    idx = mm.index()
    want = mm.matrix[[idx["burst_a"], idx["rr_b"]]]
    assert (got.matrix != want).nnz == 0 and got.n_minutes == mm.n_minutes


def test_no_candidates_asks_nothing_of_the_cluster(tmp_path):
    s = load_settings(tmp_path / "home", engine="spark")
    empty = pd.DataFrame({"src": pd.Series(dtype=object), "dst": pd.Series(dtype=object)})
    out, fetch = timing_spark.timing_edges(None, s, DAY, 2, empty, PARAMS)  # no session
    assert out.empty and list(out.columns) == list(timing.PAIR_COLUMNS)
    mm = fetch(["rr_a"])
    assert mm.accounts == [] and mm.n_minutes == 2 * 1440


def test_pairs_reach_the_plan_as_a_file_scan_and_the_scratch_goes(spark_cluster, tmp_path):
    """The pairs are read from a scratch Parquet file, not copied into the plan as a local
    relation (a 1 GiB driver ran out of heap copying them); the scratch folder is removed
    after the query, after ``fetch`` and when the block fails."""
    from detector.lake.spark import spark_session

    s = cluster_home(spark_cluster, tmp_path / "home")
    write_lake(s, _rows())
    con = connect(s)
    try:
        open_day_window(con, s, DAY, PARAMS)
    finally:
        con.close()
    spark, root = spark_session(s), daycache.cache_root(s)
    cands = pd.DataFrame([("burst_a", "burst_b"), ("rr_a", "rr_b")], columns=["src", "dst"])
    with timing_spark.pair_stats(spark, s, DAY, 2, cands, PARAMS) as query:
        qe = query._jdf.queryExecution()
        optimized, plan = qe.optimizedPlan().toString(), qe.executedPlan().toString()
        (scratch,) = root.glob(".spark-*")
        pairs_file = (scratch / "dg_tm_pairs.parquet").as_uri()
        assert pairs_file in query.inputFiles()  # a file scan of the scratch file
        assert query.count() == 2
    assert "LocalRelation" not in optimized and "LocalTableScan" not in plan, plan
    assert not scratch.exists() and not spark.catalog.tableExists("dg_tm_pairs")

    out, fetch = timing_spark.timing_edges(spark, s, DAY, 2, cands, PARAMS)
    assert set(out["src"] + "-" + out["dst"]) == {"burst_a-burst_b", "rr_a-rr_b"}
    assert fetch(["rr_a"]).accounts == ["rr_a"]
    assert not list(root.glob(".spark-*"))

    with (pytest.raises(RuntimeError, match="boom"),
          timing_spark.pair_stats(spark, s, DAY, 2, cands, PARAMS)):
        raise RuntimeError("boom")
    assert not list(root.glob(".spark-*"))
