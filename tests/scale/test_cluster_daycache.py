"""The clusters stage's day cache built on the Spark standalone cluster (the session's
``spark_cluster``: executors in another JVM write the files) holds the same tables as DuckDB's:
same rows, same order where DuckDB orders them, same column types, on a small generated day
with tricky text (non-ASCII, 'İ' and a final 'Σ', quotes, backslashes, empty and short
prompts, case variants of one prompt hash), temperatures Spark's ``round(t, 2)`` would round
otherwise, and timestamps one microsecond before a slot boundary. The shingle hash
(``dialect.hash63``) is checked against md5 in Python on both engines."""

from __future__ import annotations

from datetime import timedelta

import pyarrow.parquet as pq
import pytest

from detector.clusters import daycache, dialect
from detector.clusters.params import ClusterParams
from detector.lake.db import connect
from detector.settings import load_settings

from ..clusters.conftest import T0, req, scenario, write_lake
from ..clusters.test_dialect import TRICKY, reference_hash63
from .conftest import cluster_home

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DAY = T0.date().isoformat()
PARAMS = ClusterParams(template_sample=16, template_max_chars=60)
ORDERED = {"payment": ["account_id", "key"], "profile": ["account_id", "key"],
           "scaffold": ["account_id", "rk"]}


def _tricky_rows() -> list[dict]:
    prompts = [*TRICKY, "ΟΔΟΣ ΠΡΟΣ ΤΟ ΣΠΙΤΙ ΜΑΣ", "İstanbul İzmir Iğdır Ankara",
               "Same Question asked here again", "same question ASKED here again",
               "word " * 40 + "tail beyond the cut", "it's 'quoted' \"twice\" here"]
    rows = []
    for i, p in enumerate(prompts):
        for k, acct in enumerate(("trickyA", "trickyB", "trickyC")):
            ts = T0 + timedelta(hours=1 + i, microseconds=-1 if k == 0 else 7 * i)
            row = req(acct, ts, p, ip=f"10.9.{k}.{i % 3}",
                      user_agent=["Python-Requests/2.31", "MyApp/1.0 (ÜBER)", None, ""][i % 4],
                      temperature=[0.285, 2.675, 1.005, None, 0.7][i % 5],
                      max_tokens=[None, 512][i % 2], logprobs=[None, True, False][i % 3],
                      top_logprobs=[None, 5][i % 2], system_hash=[None, "s1"][i % 2],
                      payment_fingerprint=[None, "", f"pay'{k}"][i % 3])
            if p == "same question ASKED here again":  # the other case variant's hash
                row["prompt_hash"] = rows[-3]["prompt_hash"]
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def homes(spark_cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("daycache")
    duck = load_settings(root / "duck")
    spark = cluster_home(spark_cluster, root / "spark")
    rows = scenario(day_index=0)[0] + _tricky_rows()
    for s in (duck, spark):
        s.ensure_dirs()
        write_lake(s, rows)
    return duck, spark


def test_hash63_is_the_md5_prefix_on_spark(homes):
    from detector.lake.spark import spark_session

    session = spark_session(homes[1])
    frame = session.createDataFrame([(i, t) for i, t in enumerate(TRICKY)], "i int, s string")
    frame.createOrReplaceTempView("dg_test_tricky")
    got = [r[0] for r in session.sql(f"SELECT {dialect.hash63('s', 'spark')} FROM dg_test_tricky "
                                     "ORDER BY i").collect()]
    assert got == [reference_hash63(t) for t in TRICKY]


def test_day_cache_on_cluster_equals_duckdbs(homes):
    from detector.lake.spark import spark_session

    duck, spark = homes
    key = daycache.cache_key(PARAMS)
    con = connect(duck)
    want = daycache.build_day(con, duck, DAY, PARAMS)
    con.close()
    got = daycache.build_day(connect(spark), spark, DAY, PARAMS, spark_session(spark))
    assert (want["engine"], got["engine"]) == ("duckdb", "spark")
    assert got["rows"] == want["rows"] and min(want["rows"].values()) > 0
    assert daycache.is_current(spark, DAY, key)
    for name in daycache.TABLES:
        a = pq.read_table(daycache.day_dir(duck, DAY, key) / f"{name}.parquet")
        b = pq.read_table(daycache.day_dir(spark, DAY, key) / f"{name}.parquet")
        assert [(f.name, str(f.type)) for f in a.schema] == [(f.name, str(f.type))
                                                             for f in b.schema], name
        if name not in ORDERED:  # written unsorted by both engines
            keys = [(c, "ascending") for c in a.column_names]
            a, b = a.sort_by(keys), b.sort_by(keys)
        assert a.to_pylist() == b.to_pylist(), name
    left = sorted(p.name for p in daycache.day_dir(spark, DAY, key).iterdir())
    assert left == sorted([*(f"{t}.parquet" for t in daycache.TABLES), "manifest.json"])
    scaffold = pq.read_table(daycache.day_dir(spark, DAY, key) / "scaffold.parquet").to_pandas()
    tricky = scaffold[scaffold["account_id"].str.startswith("tricky")]
    assert tricky["shingles"].map(len).eq(0).any() and tricky["shingles"].map(len).gt(2).any()
