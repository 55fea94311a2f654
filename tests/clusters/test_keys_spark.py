"""The window's blocking-key pairs with the key rows built on Spark (``local[1]``:
``detector/clusters/keys_spark.py`` reads the day caches' key tables by URI) equal the driver's
(DuckDB over ``daycache.open_window``'s tables), weights and evidence bit for bit, on a two-day
window of the constructed scenario with a card shared by more accounts than the cap (star
edges), a campus NAT over the cap, stock user agents (generic profiles) and an account active
only on the first day (its keys must not count on the second).

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from detector.clusters import daycache, keys_spark, window
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
def pairs(tmp_path_factory):
    from detector.features.engine import stop_spark
    from detector.lake.spark import spark_session

    s = load_settings(tmp_path_factory.mktemp("keys_spark") / "home", engine="spark",
                      spark_master="local[1]")
    s.ensure_dirs()
    write_lake(s, _rows())
    con = connect(s)
    try:
        con.execute("CREATE TEMP TABLE nodes AS SELECT DISTINCT account_id FROM requests "
                    f"WHERE CAST(date AS DATE) = DATE '{DAY}'")
        daycache.open_window(con, s, DAY, 2, PARAMS)  # built by DuckDB: the files Spark reads
        driver = window.key_edges(con, PARAMS, cached=True)
    finally:
        con.close()
    try:
        cluster = keys_spark.key_edges(spark_session(s), s, DAY, 2, PARAMS,
                                       window.key_specs(PARAMS, keys_spark.VIEWS))
        yield dict(zip(FAMILIES, driver, strict=True)), dict(zip(FAMILIES, cluster, strict=True))
    finally:
        stop_spark()


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
