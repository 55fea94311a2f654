"""Decide's request scans on Spark give DuckDB's answers: the returning-actor keys (the same
rows for given accounts, every key type, DuckDB's temperature rounding), the same links and
the same stored index, and the same org ids.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure. Uses the process's Spark session
(``local[threads]``, the one the feature parity tests use).
"""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from detector.decide import returning, spark_requests
from detector.decide.returning_keys import DuckKeys, round2
from detector.decide.returning_spark import SparkKeys
from detector.decide.scoring import org_ids
from detector.lake.db import connect, open_duckdb
from detector.lake.spark import spark_session
from detector.settings import load_settings
from detector.verdicts.paths import root as verdicts_root
from tests.decide.test_returning import (
    D1,
    D3,
    HARVEST_UA,
    OLD,
    many,
    req,
    verdicts,
    write_lake,
)
from tests.spark_support import spark_marks

pytestmark = spark_marks()

WRAPPER = ("You are generating training data. Write a detailed expert answer about {t}. "
           "Think step by step, show every intermediate reasoning step, then give a final "
           "summary in three bullet points.")
TOPICS = ["tides", "glaciers", "enzymes", "bridges", "volcanoes", "markets", "orbits",
          "vaccines", "alloys", "rivers", "deserts", "comets"]


def _homes(tmp_path, rows):
    """A DuckDB home and a Spark home over the same lake, sharing the index's secret."""
    duck = load_settings(tmp_path / "duck")
    spark = load_settings(tmp_path / "spark", engine="spark")
    for s in (duck, spark):
        s.ensure_dirs()
        write_lake(s, rows)
    secret = returning._secret(duck)
    (returning.index_dir(spark)).mkdir(parents=True, exist_ok=True)
    (returning.index_dir(spark) / "secret").write_text(secret, encoding="utf-8")
    return duck, spark, secret


def _scripted(account, day, topics, **kw):
    return [req(account, day, i, prompt=WRAPPER.format(t=t), **kw) for i, t in enumerate(topics)]


def _day3():
    """D3: fresh accounts linked by each key type, a campus /24 held by too many accounts,
    a placeholder card, a template shared with the blocked account, varied client profiles."""
    rows = many("pay", D3, pay="card-77")
    rows += many("weak2", D3, ip="203.0.113.200", ua=HARVEST_UA, max_tokens=4096)
    rows += _scripted("tpl", D3, TOPICS[6:], ip="192.0.2.50", ua="Other/3", system="sys-harvest")
    rows += many("chatty", D3, ip="192.0.2.51", system="sys-harvest")
    rows += many("campus0", D3, ip="10.20.30.77", ua=HARVEST_UA, max_tokens=4096)
    for k in range(25):
        rows += many(f"student{k}", D3, n=3, ip=f"10.20.30.{100 + k}", ua=f"Browser/{k}")
    for k in range(4):  # generic clients, odd temperatures, non-ASCII and short prompts
        for i, r in enumerate(many(f"misc{k}", D3, n=6, ua=["python-requests/2", "Mozilla/5",
                                                            "Tool/İΣ", ""][k])):
            r["temperature"] = [0.015, 0.125, None, 1.0, 0.285, 0.7][i]
            r["prompt_text"] = ["ΣΑΣ İstanbul über alles ok go", "hi", "", None, "a b c d e",
                                "one two three four"][i]
            rows.append(r)
    return rows


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    cols = ["account_id", "key_type", "key"]
    return frame[cols].astype(str).sort_values(cols).reset_index(drop=True)


def test_spark_rounds_temperatures_as_duckdb(tmp_path):
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.uniform(0, 2, 2000), np.arange(0, 2.0001, 0.005),
                             np.arange(0, 1001) / 1000, np.arange(0, 401) / 200,
                             -rng.uniform(0, 2, 200), [0.125, 0.375, 1.125, 1e-9, 12345.675,
                                                       0.285, 0.0]])
    frame = pd.DataFrame({"i": np.arange(len(values)), "t": values})
    con = open_duckdb()
    want = con.sql("SELECT i, CAST(round(t, 2) AS VARCHAR) AS r FROM frame ORDER BY i").df()
    spark = spark_session(load_settings(tmp_path / "h", engine="spark"))
    spark.createDataFrame(frame).createOrReplaceTempView("dg_t")
    got = spark.sql(f"SELECT i, CAST({round2('t', 'spark')} AS STRING) AS r FROM dg_t "
                    "ORDER BY i").toPandas()
    assert got["r"].tolist() == want["r"].tolist()


def test_spark_keys_are_duckdbs(tmp_path):
    rows = _scripted("old", D1, TOPICS[:6], **OLD) + _day3()
    duck, spark, secret = _homes(tmp_path, rows)
    on_duck, on_spark = DuckKeys(connect(duck)), SparkKeys(spark, connect(spark))
    accounts = sorted({r["account_id"] for r in rows if r["ts"].date().isoformat() == D3})
    for subset in (accounts, ["tpl", "misc0", "misc1", "student3", "absent"]):
        want = on_duck.keys(D3, secret, subset)
        assert {"payment", "prefix", "client", "system", "shingle"} <= set(want["key_type"]) \
            or subset != accounts
        pd.testing.assert_frame_equal(_sorted(on_spark.keys(D3, secret, subset)), _sorted(want))
    assert on_spark.active(D3, {"tpl", "old", "absent"}) == on_duck.active(D3, {"tpl", "old",
                                                                                 "absent"})
    got = dict(on_spark.days_of({"old", "tpl"}, "2026-10-01", "2026-11-30"))
    want = {d: sorted(a) for d, a in on_duck.days_of({"old", "tpl"}, "2026-10-01", "2026-11-30")}
    assert got == want == {D1: ["old"], D3: ["tpl"]}


def test_links_and_index_on_spark_are_duckdbs(tmp_path):
    from detector.cases import CaseStore

    day1 = _scripted("old", D1, TOPICS[:6], **OLD) + many("sold", D1, pay="card-88",
                                                          ip="198.18.0.1")
    for k in range(3):  # a card three accounts share, one of them blocked
        day1 += many(f"shared{k}", D1, n=2, pay="card-00")
    day3 = _day3() + many("fresh2", D3, pay="card-88")
    duck, spark, _ = _homes(tmp_path, day1 + day3)
    d1 = verdicts(D1, {"old": "block", "sold": "allow", "shared0": "block", "shared1": "allow",
                       "shared2": "allow"})
    written = [returning.write_index(s, connect(s), d1) for s in (duck, spark)]
    assert written[0] == written[1]
    path = f"date={D1}/keys.parquet"
    pd.testing.assert_frame_equal(pq.read_table(returning.index_dir(spark) / path).to_pandas(),
                                  pq.read_table(returning.index_dir(duck) / path).to_pandas())
    secret = returning._secret(duck)  # what matching a day brings back: fewer rows than the day's
    idx = returning.stored_index(spark, D1, D3)
    reduced = SparkKeys(spark, connect(spark)).today(D3, secret, idx, 20, 200)
    every = DuckKeys(connect(duck)).today(D3, secret, idx, 20, 200)
    assert set(reduced["account_id"]) < set(every["account_id"]) and len(reduced) < len(every)
    assert not reduced["account_id"].str.startswith("student").any()
    exact = SparkKeys(spark, connect(spark)).today(D3, secret, idx[idx["key_type"] != "shingle"],
                                                   20, 200)  # no indexed scaffold
    assert len(exact) and "shingle" not in set(exact["key_type"])
    for s in (duck, spark):  # confirmed after D1 was indexed: caught up from the lake
        CaseStore(s).record_decision("sold", "confirm-block", "ana", date=D1)
    accounts = sorted({r["account_id"] for r in day3})
    out = verdicts(D3, dict.fromkeys(accounts, "allow"))
    frame = out[["account_id", "date"]].assign(hist_days_since_first_seen=0)
    links = [returning.link(s, connect(s), frame, out) for s in (duck, spark)]
    linked = {out["account_id"].iat[i] for i in links[0]}
    assert {"pay", "weak2", "tpl", "fresh2"} <= linked and "chatty" not in linked
    assert "campus0" not in linked  # the /24 is held by 26 accounts that day
    assert links[1] == links[0]


def test_org_ids_on_spark_are_duckdbs(tmp_path):
    rows = []
    for account, orgs in {"a": ["org-1"], "b": ["org-9", "org-2"], "c": [None],
                          "d": [None, "org-4"]}.items():
        for k, org in enumerate(orgs):
            for r in many(account, [D1, D3][k % 2], n=3):
                r["org_id"] = org
                rows.append(r)
    duck, spark, _ = _homes(tmp_path, rows)
    frame = pd.DataFrame({"account_id": ["a", "b", "c", "d", "absent", "a"],
                          "date": dt.date.fromisoformat(D3)})
    want = [None if pd.isna(o) else o for o in org_ids(connect(duck), frame)]
    # the DataFrame the policy joins on the executors (spark_policy.decide_view), collected here
    with ExitStack() as held:
        accounts = spark_requests.accounts_frame(spark, frame["account_id"], held)
        orgs = spark_requests.org_ids_frame(spark, accounts).toPandas()
    assert sorted(orgs["account_id"]) == ["a", "b", "c", "d"]  # no row for an absent account
    got = frame[["account_id"]].merge(orgs, on="account_id", how="left")["org_id"]
    assert want == ["org-1", "org-2", None, "org-4", None, "org-1"]
    assert [None if pd.isna(o) else o for o in got] == want


def test_named_accounts_and_index_keys_reach_the_plans_as_scratch_files(tmp_path, monkeypatch):
    """The named accounts and the index keys the key queries join reach their plans as file
    scans of scratch Parquet files in hidden folders of the verdict folder
    (``spark_policy.sent_frame``), not as local relations; the folders are gone afterwards."""
    rows = _scripted("old", D1, TOPICS[:6], **OLD) + _day3()
    duck, spark, secret = _homes(tmp_path, rows)
    on_spark = SparkKeys(spark, connect(spark))
    frame, seen = type(spark_session(spark).range(0)), []
    original = frame.toPandas
    scratch = verdicts_root(spark)

    def spy(self):
        qe = self._jdf.queryExecution()
        seen.append((qe.optimizedPlan().toString(), qe.executedPlan().toString(),
                     [f for f in self.inputFiles() if "/.spark-" in f],
                     len(list(scratch.glob(".spark-*")))))
        return original(self)

    monkeypatch.setattr(frame, "toPandas", spy)
    idx = DuckKeys(connect(duck)).keys(D3, secret, ["tpl", "old"])
    assert set(idx["key_type"]) >= {"shingle", "prefix"}
    on_spark.keys(D3, secret, ["tpl", "misc0"])
    on_spark.active(D3, {"tpl", "old"})
    on_spark.days_of({"old", "tpl"}, "2026-10-01", "2026-11-30")
    on_spark.today(D3, secret, idx, 20, 200)
    assert len(seen) == 4
    for optimized, plan, files, folders in seen:
        assert "LocalRelation" not in optimized and "LocalTableScan" not in plan, plan
        assert files and folders == len({f.rsplit("/", 2)[1] for f in files})
    assert not list(scratch.glob(".*")) and not spark_session(spark).catalog.tableExists(
        "dg_dec_accounts")
