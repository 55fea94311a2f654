"""The window's blocking-key pairs with the key rows built on Spark (``local[1]``:
``detector/clusters/keys_spark.py`` reads the day caches' key tables by URI) equal the driver's
(DuckDB over ``daycache.open_window``'s tables), weights and evidence bit for bit, on a two-day
window of the constructed scenario with a card shared by more accounts than the cap (star
edges), a campus NAT over the cap, stock user agents (generic profiles) and an account active
only on the first day (its keys must not count on the second). The creation-time pairs built
on Spark from the day's request files (``keys_spark.creation_edges``) equal the driver's from
table ``nodes`` (``keys.creation_sql``, one text for both engines), and Spark's spelling of
DuckDB's ``epoch`` (``dialect.epoch_s``) gives its bits.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from detector.clusters import daycache, dialect, keys, keys_spark, spark_sql, window
from detector.clusters.keys import PAIR_COLUMNS
from detector.clusters.params import ClusterParams
from detector.lake.db import connect
from detector.settings import load_settings
from tests.spark_support import spark_marks

from .conftest import T0, req, scenario, write_lake

pytestmark = spark_marks(pytest.mark.timeout(300))

DAY = (T0 + timedelta(days=1)).date().isoformat()
PARAMS = ClusterParams(max_key_accounts=6, min_edge_weight=0.05)
FAMILIES = ["payment", "payment_star", "ip", "prefix", "fingerprint"]


def _rows() -> list[dict]:
    rows = scenario(day_index=0)[0] + scenario(day_index=1, drop=("hydra07",))[0]
    for d in (0, 1):  # one card over the cap: star edges
        rows += [req(f"user{i:02d}", T0 + timedelta(days=d, hours=i), f"card {i}",
                     payment_fingerprint="pm_shared") for i in range(8)]
    return rows


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["src", "dst", "evidence"], kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from detector.features.engine import stop_spark

    s = load_settings(tmp_path_factory.mktemp("keys_spark") / "home", engine="spark",
                      spark_master="local[1]")
    s.ensure_dirs()
    try:
        yield s
    finally:
        stop_spark()


@pytest.fixture(scope="module")
def pairs(home):
    from detector.lake.spark import spark_session

    s = home
    write_lake(s, _rows())
    con = connect(s)
    try:
        con.execute("CREATE TEMP TABLE nodes AS SELECT DISTINCT account_id FROM requests "
                    f"WHERE CAST(date AS DATE) = DATE '{DAY}'")
        daycache.open_window(con, s, DAY, 2, PARAMS)  # built by DuckDB: the files Spark reads
        driver = window.key_edges(con, PARAMS, cached=True)
    finally:
        con.close()
    cluster = keys_spark.key_edges(spark_session(s), s, DAY, 2, PARAMS,
                                   window.key_specs(PARAMS, keys_spark.VIEWS))
    return dict(zip(FAMILIES, driver, strict=True)), dict(zip(FAMILIES, cluster, strict=True))


@pytest.mark.parametrize("family", FAMILIES)
def test_key_pairs_from_rows_built_on_spark_equal_the_drivers(pairs, family):
    driver, cluster = pairs
    want, got = _sorted(driver[family]), _sorted(cluster[family])
    assert len(want) > 0 and list(got.columns) == list(PAIR_COLUMNS)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_the_window_reaches_every_rule(pairs):
    driver, _ = pairs
    star = driver["payment_star"]
    assert set(star["src"]) == {"user00"} and len(star) == 7  # 8 holders over the cap of 6
    accounts = set(pd.concat([f[["src", "dst"]] for f in driver.values()]).stack())
    assert "hydra07" not in accounts and "hydra06" in accounts  # active on the first day only
    assert not (set(driver["ip"]["src"]) & {"campus00"})  # the NAT is over the cap
    assert (driver["fingerprint"]["weight"] < 1.0).any()  # generic (stock) user agents


@pytest.mark.parametrize("kw", [{"weigh": "factor", "normalize": True},
                                {"weigh": "popularity", "normalize": True, "min_weight": 0.05}])
def test_a_weight_summed_over_many_keys_is_the_same_bits_on_both_engines(home, kw):
    """Pairs sharing thousands of keys (the terms split over Spark partitions and DuckDB
    threads): the exact sum gives the same bits on both engines."""
    from detector.lake.spark import spark_session

    rng = np.random.default_rng(9)
    n = 6000
    accounts = np.array(["a", "b", "c"])[rng.integers(0, 3, 3 * n)]
    frame = pd.DataFrame({"key": [f"k{i}" for i in rng.integers(0, n, 3 * n)],
                          "slot": rng.integers(0, 2, 3 * n), "account_id": accounts,
                          "factor": rng.uniform(0.01, 1.0, 3 * n)})
    con = duckdb.connect()
    con.execute("SET threads = 4")
    con.register("t0", frame)
    con.execute("CREATE TABLE t AS SELECT * FROM t0")
    sql = "SELECT key, slot, account_id, factor FROM t"
    want = _sorted(keys.key_pairs(con, "ip", sql, 6, **kw))
    rows = con.sql(f"SELECT key, CAST(slot AS BIGINT) AS slot, account_id, factor "
                   f"FROM ({keys.key_rows_sql(sql)})").to_arrow_table()
    con.close()
    spark = spark_session(home)
    got = _sorted(spark_sql.key_pairs(
        spark, spark.createDataFrame(rows).repartition(4), "ip", 6, **kw))
    assert len(want) == 3 and (want["weight"] < 1.0).all()
    pd.testing.assert_frame_equal(got, want, check_exact=True)


CREATION = ClusterParams(max_key_accounts=12, min_edge_weight=0.01)


def _creation_rows() -> list[dict]:
    """The day's scenario (the hydra created 10 minutes apart) and accounts created within a
    microsecond of an hour's or a half-hour's boundary (both bucketings), at sub-millisecond
    times, before 1970, with a later creation time on another request (the earliest counts),
    with and without one, and a steady background of sign-ups (a baseline above zero, so
    factors under one)."""
    day = T0 + timedelta(days=1)
    rows = scenario(day_index=1)[0]
    edge = T0 - timedelta(days=2)  # a whole hour: both bucket boundaries around it
    us = timedelta(microseconds=1)
    created = {"edge_m1": edge - us, "edge_0": edge, "edge_p1": edge + us,
               "half_m1": edge + timedelta(minutes=30) - us,
               "half_0": edge + timedelta(minutes=30),
               "half_p1": edge + timedelta(minutes=30, microseconds=1),
               "sub_ms": edge + timedelta(seconds=1799, microseconds=999_500),
               "old_a": datetime(1969, 12, 31, 23, 59, 59, 999_001, tzinfo=UTC),
               "old_b": datetime(1969, 12, 31, 23, 30, tzinfo=UTC),
               "old_c": datetime(1969, 12, 31, 23, 0, tzinfo=UTC) - us}
    created.update({f"bg{i:02d}": edge + timedelta(minutes=37 * i - 600) for i in range(30)})
    for k, (account, at) in enumerate(created.items()):
        rows.append(req(account, day + timedelta(minutes=k), "hi", account_created_at=at))
        rows.append(req(account, day + timedelta(hours=2, minutes=k), "again",
                        account_created_at=at + timedelta(days=1) if k % 2 else None))
    rows.append(req("never_created", day, "hi"))
    return rows


@pytest.fixture(scope="module")
def creation(home, tmp_path_factory):
    """(the driver's creation pairs from table ``nodes``, those built on the cluster), a home
    of its own (the lake of ``_creation_rows``)."""
    from detector.clusters.pipeline import _nodes
    from detector.lake.spark import spark_session

    s = load_settings(tmp_path_factory.mktemp("creation_spark") / "home", engine="spark",
                      spark_master="local[1]")
    s.ensure_dirs()
    write_lake(s, _creation_rows())
    con = connect(s)
    try:
        _nodes(con, DAY)
        driver = window.creation_edges(con, CREATION)
        con.execute("DROP TABLE nodes")  # the cluster's path must not read it
        cluster = window.creation_edges(con, CREATION, spark_session(s), s, DAY)
    finally:
        con.close()
    return driver, cluster


def test_creation_pairs_built_on_spark_equal_the_drivers(creation):
    want, got = (_sorted(x) for x in creation)
    assert list(got.columns) == list(PAIR_COLUMNS)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    # the day reaches both bucketings, the boundaries, pre-1970 buckets and factors under one
    pairs = set(zip(want["src"], want["dst"], strict=True))
    assert {("edge_0", "edge_p1"), ("half_0", "half_p1"), ("old_a", "old_b")} <= pairs
    assert want["evidence"].str.contains('"key":"a').any()
    assert want["evidence"].str.contains('"key":"b').any()
    assert (want["weight"] < 1.0).any() and (want["weight"] > 0.0).any()
    assert not {"never_created", "old_c"} & (set(want["src"]) | set(want["dst"]))


def test_the_creation_epoch_is_duckdbs(home):
    """``dialect.epoch_s`` on Spark gives DuckDB's ``epoch`` of a TIMESTAMPTZ bit for bit (ICU's: whole
    milliseconds, then the microseconds past them), from 1700 to 2200."""
    import pyarrow as pa

    from detector.lake.spark import spark_session

    rng = np.random.default_rng(3)
    micros = np.concatenate([rng.integers(-8_000_000_000_000_000, 7_300_000_000_000_000, 20_000),
                             rng.integers(1_600_000_000, 1_900_000_000, 2_000) * 1_000_000
                             + rng.integers(-1, 2, 2_000), [-1, 0, 1, -999, -1000, -1001]])
    stamps = pa.table({"i": np.arange(len(micros)),
                      "created_at": pa.array(micros, pa.timestamp("us", tz="UTC"))})
    con = duckdb.connect()
    want = con.sql(f"SELECT i, {dialect.epoch_s('created_at')} AS e FROM stamps ORDER BY i").df()
    con.close()
    spark = spark_session(home)
    got = (spark.createDataFrame(stamps)
           .selectExpr("i", f"{dialect.epoch_s('created_at', 'spark')} AS e").toPandas()
           .sort_values("i").reset_index(drop=True))
    assert (got["e"].to_numpy().view(np.int64) == want["e"].to_numpy().view(np.int64)).all()
