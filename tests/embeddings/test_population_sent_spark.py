"""The blocked accounts reach the population sample's query on Spark (``local[1]``) as a file
scan of a scratch Parquet file in a hidden folder of the centroids folder
(``population_spark.candidates``, ``lake.spark.sent_view``), not as a local relation; the
folder and the view are gone afterwards, also when the query fails. The population itself is
compared with the driver's in ``test_distributed.py``.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.embeddings import population_spark
from detector.embeddings.config import EmbeddingConfig
from detector.embeddings.paths import centroids_root
from detector.embeddings.stage import coverage_path
from detector.settings import load_settings
from tests.spark_support import spark_marks

pytestmark = spark_marks(pytest.mark.timeout(300))

DAY = "2026-11-23"
BLOCKED = {"a1", "a3"}


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from detector.lake.spark import spark_session, stop_spark

    home = tmp_path_factory.mktemp("population_sent") / "home"
    s = load_settings(home, engine="spark", spark_master="local[1]")
    path = home.parent / "encoded.parquet"  # pass 1's kept frame, a file scan too
    accounts = [f"a{i % 5}" for i in range(20)]
    pq.write_table(pa.table({
        "account_id": accounts, "pos": [i // 5 for i in range(20)],
        "prompt_hash": [f"h{i % 7}" for i in range(20)],
        "vector": pa.array([[float(i), 1.0] for i in range(20)], pa.list_(pa.float32())),
        "candidate": [i % 4 != 3 for i in range(20)]}), path)
    session = spark_session(s)
    try:
        yield session, s, session.read.parquet(path.as_uri())
    finally:
        stop_spark()


@pytest.fixture
def seen(spark, monkeypatch):
    """(optimized plan, physical plan, input files, scratch folders) of every ``toArrow``."""
    session, s, _ = spark
    frame, out = type(session.range(0)), []
    original = frame.toArrow

    def spy(self):
        qe = self._jdf.queryExecution()
        out.append((qe.optimizedPlan().toString(), qe.executedPlan().toString(),
                    list(self.inputFiles()), list(_scratch(s))))
        return original(self)

    monkeypatch.setattr(frame, "toArrow", spy)
    return out


def _scratch(s) -> list:
    return list(centroids_root(s).glob(".spark-*"))


def test_blocked_accounts_reach_the_plan_as_a_file_scan_and_the_scratch_goes(spark, seen):
    session, s, encoded = spark
    got, n = population_spark.candidates(session, s, encoded, BLOCKED, EmbeddingConfig())
    ((optimized, plan, files, (scratch,)),) = seen
    assert not any(f.startswith(coverage_path(s, DAY).parent.parent.as_uri()) for f in files)
    assert (scratch / "dg_pop_blocked.parquet").as_uri() in files
    assert "LocalRelation" not in optimized and "LocalTableScan" not in plan, plan
    assert not scratch.exists() and not session.catalog.tableExists("dg_pop_blocked")
    assert n == got.num_rows > 0 and not set(got.column("account_id").to_pylist()) & BLOCKED
    assert len(set(got.column("prompt_hash").to_pylist())) == n


def test_a_failed_query_leaves_no_scratch(spark, monkeypatch):
    session, s, encoded = spark

    def fail(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(type(session.range(0)), "toArrow", fail)
    with pytest.raises(RuntimeError, match="boom"):
        population_spark.candidates(session, s, encoded, BLOCKED, EmbeddingConfig())
    assert not _scratch(s) and not session.catalog.tableExists("dg_pop_blocked")
