"""The day's rule hits reach the verdict query on Spark (``local[1]``) as a file scan of a
scratch Parquet file in a hidden folder of the verdict folder (``spark_policy.verdict_frame``,
``lake.spark.sent_view``), not as a local relation; the folder and the view are gone once the
caller releases the rows, and when building the query fails. The verdicts themselves are
compared with the driver's in ``test_spark_policy.py``.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.decide import spark_policy
from detector.decide.policy import PolicyConfig
from detector.settings import load_settings
from detector.verdicts.paths import root
from tests.spark_support import spark_marks

pytestmark = spark_marks(pytest.mark.timeout(300))

DAY = "2026-11-23"
CFG = PolicyConfig(review_threshold=0.5, block_threshold=0.9)


class _Model:
    """What ``verdict_frame`` reads of a model before the rows are run: its feature names."""

    feature_names_in_ = np.array(["x_signal"])


class _Unpicklable(_Model):
    def __reduce__(self):
        raise RuntimeError("no pickling")


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from detector.lake.spark import spark_session, stop_spark

    home = tmp_path_factory.mktemp("hits_sent") / "home"
    s = load_settings(home, engine="spark", spark_master="local[1]")
    rows = home.parent / "rows.parquet"  # the feature rows, a file scan too
    pq.write_table(pa.table({"account_id": [f"a{i}" for i in range(6)],
                             "date": [dt.date.fromisoformat(DAY)] * 6,
                             "x_signal": np.linspace(0, 1, 6)}), rows)
    session = spark_session(s)
    session.read.parquet(rows.as_uri()).createOrReplaceTempView("dg_test_rows")
    try:
        yield session, s
    finally:
        stop_spark()


def _hits() -> pd.DataFrame:
    return pd.DataFrame({"account_id": ["a1", "a1", "a4"], "date": [DAY] * 3,
                         "rule_name": ["r1", "r2", "r1"], "action": ["review", None, "block"],
                         "score": [0.5, np.nan, 0.9], "shadow": [False, True, False]})


def test_hits_reach_the_plan_as_a_file_scan_and_the_scratch_goes(spark):
    session, s = spark
    rows, held = spark_policy.verdict_frame(s, "dg_test_rows", _Model(), _hits(), CFG)
    try:
        qe = rows._jdf.queryExecution()
        optimized, plan = qe.optimizedPlan().toString(), qe.executedPlan().toString()
        (scratch,) = root(s).glob(".spark-*")
        assert (scratch / "dg_dec_hits.parquet").as_uri() in rows.inputFiles()
        assert session.table("dg_dec_hits").count() == 3
    finally:
        held.unpersist()
    assert "LocalRelation" not in optimized and "LocalTableScan" not in plan, plan
    assert not scratch.exists() and not session.catalog.tableExists("dg_dec_hits")
    assert not list(root(s).glob("date=*"))  # nothing a verdict reader would list


def test_a_failed_query_leaves_no_scratch(spark):
    session, s = spark
    with pytest.raises(RuntimeError, match="no pickling"):
        spark_policy.verdict_frame(s, "dg_test_rows", _Unpicklable(), _hits(), CFG)
    assert not list(root(s).glob(".spark-*"))
    assert not session.catalog.tableExists("dg_dec_hits")
