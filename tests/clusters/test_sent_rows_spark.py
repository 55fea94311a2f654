"""Rows the clusters stage sends from the driver to Spark (``local[1]``) reach the query plans as
a file scan of a scratch Parquet file in the home's cluster cache (``lake.spark.sent_view``),
not as a local relation: the clustered accounts whose scaffold sets are fetched
(``templates_spark.scaffold_sets_of``) and whose node rows are fetched
(``nodes_spark.DayNodes.rows_of``), the cluster members of the day volumes (``volumes``), the raw
window's key rows without the day caches (``keys.key_pairs`` / ``star_pairs`` with ``spark``)
and the linked pairs of the connected components (``spark_sql.components``). The scratch
folder and the view are gone afterwards; the node rows, volumes, key pairs and components are
the driver's (the template sets are compared in ``tests/scale/test_cluster_templates.py``).

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import duckdb
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from detector.clusters import daycache, keys, nodes_spark, pipeline, spark_sql, templates_spark
from detector.clusters.features import volume_table
from detector.clusters.params import ClusterParams
from detector.lake.db import connect
from detector.settings import load_settings
from tests.spark_support import key_rows_connection, spark_marks

from .conftest import T0, scenario, write_lake

pytestmark = spark_marks(pytest.mark.timeout(300))

DAY = (T0 + timedelta(days=1)).date().isoformat()
PARAMS = ClusterParams(max_key_accounts=6, min_edge_weight=0.05)


@dataclass
class Seen:
    """A plan the spy saw: optimized and physical plan, input files, scratch folders then."""

    optimized: str
    physical: str
    files: list[str]
    scratch: list[str]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from detector.features.engine import stop_spark

    s = load_settings(tmp_path_factory.mktemp("sent_rows") / "home", engine="spark",
                      spark_master="local[1]")
    s.ensure_dirs()
    rows0, truth = scenario(day_index=0)
    write_lake(s, rows0 + scenario(day_index=1)[0])
    con = connect(s)
    try:
        con.execute("CREATE TEMP TABLE nodes AS SELECT DISTINCT account_id FROM requests "
                    f"WHERE CAST(date AS DATE) = DATE '{DAY}'")
        daycache.open_window(con, s, DAY, 2, PARAMS)  # the day caches the template sets read
        nodes = pipeline._nodes(con, DAY)
        hydra = sorted(a for a in truth if a.startswith("hydra"))[:4]
        members = pd.DataFrame({"cluster_id": ["c1", "c1", "c2", "c2"], "account_id": hydra})
        volumes = volume_table(con, members)
    finally:
        con.close()
    try:
        yield s, nodes, members, volumes
    finally:
        stop_spark()


@pytest.fixture
def seen(home, monkeypatch):
    """Every plan run by ``toArrow`` or cut by ``localCheckpoint`` meanwhile (a spy)."""
    from detector.lake.spark import spark_session

    frame = type(spark_session(home[0]).range(0))  # the session's DataFrame class
    root, out = daycache.cache_root(home[0]), []

    def spy(name: str) -> None:
        original = getattr(frame, name)

        def wrapped(self, *args, **kwargs):
            qe = self._jdf.queryExecution()
            out.append(Seen(qe.optimizedPlan().toString(), qe.executedPlan().toString(),
                            list(self.inputFiles()),
                            [p.as_uri() for p in root.glob(".spark-*")]))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(frame, name, wrapped)

    spy("toArrow")
    spy("localCheckpoint")
    return out


def _key_rows() -> duckdb.DuckDBPyConnection:
    return key_rows_connection(4)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["src", "dst", "evidence"], kind="stable").reset_index(drop=True)


def _scaffold_sets(spark, home):
    s, _, members, _ = home
    got = templates_spark.scaffold_sets_of(spark, s, DAY, 2, [*members["account_id"], "nobody"],
                                           PARAMS)
    assert got and set(got) <= set(members["account_id"])


def _node_rows(spark, home):
    s, nodes, members, _ = home
    with nodes_spark.open_day(spark, s, DAY) as day_nodes:
        got = day_nodes.rows_of([*members["account_id"], "nobody"])
    want = (nodes[nodes["account_id"].isin(members["account_id"])]
            .sort_values("account_id", ignore_index=True))
    assert len(got) == len(members)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=True)


def _volumes(spark, home):
    s, _, members, want = home
    with nodes_spark.open_day(spark, s, DAY) as day_nodes:
        got = day_nodes.volumes(members)
    want = want.sort_values("cluster_id", ignore_index=True)
    assert list(got["cluster_id"]) == ["c1", "c2"]
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=True)


def _key_pairs(spark, home):
    con = _key_rows()
    sql = "SELECT key, slot, account_id, factor FROM t"
    kw = {"normalize": True, "min_weight": 0.2}
    want = keys.key_pairs(con, "ip", sql, 6, **kw)
    got = keys.key_pairs(con, "ip", sql, 6, spark=spark, scratch=home[0], **kw)
    assert len(want) > 0
    pd.testing.assert_frame_equal(_sorted(got), _sorted(want), check_exact=True)


def _star_pairs(spark, home):
    con = _key_rows()
    sql = "SELECT key, account_id FROM t"
    want = keys.star_pairs(con, "payment", sql, 3)
    got = keys.star_pairs(con, "payment", sql, 3, spark=spark, scratch=home[0])
    assert len(want) > 0
    pd.testing.assert_frame_equal(_sorted(got), _sorted(want), check_exact=True)


def _components(spark, home):
    rng = np.random.default_rng(2)
    src = [f"n{rng.integers(0, 300)}" for _ in range(200)]
    dst = [f"n{rng.integers(0, 300)}" for _ in range(200)]
    chain = [f"c{i:02d}" for i in range(12)]  # a long path: labels travel 11 hops
    src, dst = src + chain[1:], dst + chain[:-1]
    got = spark_sql.components(spark, src, dst, scratch=home[0])
    g = nx.Graph()
    g.add_edges_from(zip(src, dst, strict=True))
    assert sorted(map(sorted, got)) == sorted(map(sorted, nx.connected_components(g)))


@pytest.mark.parametrize(("call", "view"), [
    (_scaffold_sets, "dg_tpl_wanted"), (_node_rows, "dg_nodes_wanted"),
    (_volumes, "dg_nodes_members"), (_key_pairs, "dg_keys"), (_star_pairs, "dg_star"),
    (_components, "dg_cc_pairs")], ids=lambda x: getattr(x, "__name__", x).strip("_"))
def test_sent_rows_reach_the_plan_as_a_file_scan_and_the_scratch_goes(home, seen, call, view):
    from detector.lake.spark import spark_session

    spark, root = spark_session(home[0]), daycache.cache_root(home[0])
    call(spark, home)
    read = [x for x in seen if any(f.endswith(f"/{view}.parquet") for f in x.files)]
    assert read, f"no plan read the scratch file of {view}"
    for x in read:  # the file is in the scratch folder that existed while the plan ran
        (file,) = [f for f in x.files if f.endswith(f"/{view}.parquet")]
        assert any(file.startswith(folder + "/") for folder in x.scratch), (file, x.scratch)
    for x in seen:
        assert "LocalRelation" not in x.optimized, x.optimized
        assert "LocalTableScan" not in x.physical, x.physical
    assert not list(root.glob(".spark-*")) and not spark.catalog.tableExists(view)
