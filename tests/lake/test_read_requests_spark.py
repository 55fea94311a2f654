"""``lake.spark.read_requests`` on ``local[1]``: the committed request files of the days asked
for (hidden '.'-files left out), the columns asked for, None when no day has a file, and with
``with_day`` a ``day`` column per day read.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.settings import load_settings
from tests.spark_support import spark_marks

pytestmark = spark_marks(pytest.mark.timeout(300))


def _write(folder, name: str, accounts: list[str], org: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"account_id": accounts, "org_id": [org] * len(accounts),
                             "prompt_hash": ["h"] * len(accounts)}), folder / name)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from detector.lake.spark import stop_spark

    s = load_settings(tmp_path_factory.mktemp("read_requests") / "home", engine="spark",
                      spark_master="local[1]")
    s.ensure_dirs()
    _write(s.requests_dir / "date=2026-03-01", "part-0.parquet", ["a", "b"], "o1")
    _write(s.requests_dir / "date=2026-03-01", "part-1.parquet", ["c"], "o1")
    _write(s.requests_dir / "date=2026-03-01", ".part-2.parquet", ["uncommitted"], "o9")
    _write(s.requests_dir / "date=2026-03-02", "part-0.parquet", ["a", "d"], "o2")
    try:
        yield s
    finally:
        stop_spark()


def test_a_day_without_files_reads_as_none(home):
    from detector.lake.spark import read_requests, spark_session

    spark = spark_session(home)
    assert read_requests(spark, home, "2026-03-05") is None
    assert read_requests(spark, home, ["2026-03-05", "2026-03-06"], with_day=True) is None
    assert read_requests(spark, home, []) is None


def test_the_committed_files_of_the_days_with_the_columns_asked_for(home):
    from detector.lake.spark import read_requests, spark_session

    spark = spark_session(home)
    one = read_requests(spark, home, "2026-03-01", ["account_id", "org_id"])
    assert one.columns == ["account_id", "org_id"]
    assert sorted(map(tuple, one.collect())) == [("a", "o1"), ("b", "o1"), ("c", "o1")]
    every = read_requests(spark, home, "2026-03-02")
    assert every.columns == ["account_id", "org_id", "prompt_hash"]
    both = read_requests(spark, home, ["2026-03-01", "2026-03-05", "2026-03-02"], ["account_id"])
    assert sorted(r.account_id for r in both.collect()) == ["a", "a", "b", "c", "d"]


def test_with_day_each_row_carries_its_day(home):
    from detector.lake.spark import read_requests, spark_session

    got = read_requests(spark_session(home), home, ["2026-03-02", "2026-03-01"], ["account_id"],
                        with_day=True)
    assert got.columns == ["account_id", "day"]
    assert sorted(map(tuple, got.collect())) == [
        ("a", "2026-03-01"), ("a", "2026-03-02"), ("b", "2026-03-01"), ("c", "2026-03-01"),
        ("d", "2026-03-02")]
