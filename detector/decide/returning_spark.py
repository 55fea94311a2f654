"""Returning-actor keys read on the executors (``engine = "spark"``).

:class:`SparkKeys` is ``returning_keys.DuckKeys`` with the request scans in Spark SQL over the
day's request files (``lake.spark.read_requests``): the same SQL text as DuckDB's for the
payment, prefix, client and system keys (``returning_keys.keys_sql``; DuckDB's
``round(temperature, 2)`` spelled exactly, ``returning_keys.round2``) and the template
shingles from the clusters stage's prompt sample (``returning_keys.shingle_keys_sql``, the
rows of ``templates.scaffold_rows``). The linking queries then run on the driver's DuckDB
connection over what came back, unchanged:

- the keys of given accounts (the day's blocked accounts, for the index) and which of given
  accounts were active (analyst-confirmed accounts): per account;
- for matching a day (:meth:`SparkKeys.today`), not every account's keys but the rows the
  linking query can use: keys equal to an index key whose popularity that day (accounts
  holding it) is within its cap, with every holder, and every scaffold shingle of the
  accounts sharing a shingle with an indexed scaffold. The popularity counts and the
  template Jaccard over those rows are the ones over every account's keys, so the links are
  the same; what comes back is bounded by the index's keys times their caps.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from detector.decide import spark_requests
from detector.decide.returning_keys import keys_sql, shingle_keys_sql
from detector.decide.spark_policy import sent_frame
from detector.lake.db import lake_dates
from detector.lake.spark import read_requests, spark_session
from detector.settings import Settings

#: The temporary view of the requests the key queries read.
VIEW = "dg_returning_src"
#: Request columns the key queries read.
COLUMNS = ["account_id", "user_agent", "max_tokens", "temperature", "logprobs", "top_logprobs",
           "n", "stream", "response_format", "system_hash", "payment_fingerprint", "ip_prefix",
           "prompt_text", "prompt_hash"]
KEY_COLUMNS = ["account_id", "key_type", "key"]


def _empty_keys() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in KEY_COLUMNS})


class SparkKeys:
    """The lake reads of returning-actor linking on the executors; ``con`` (the driver's
    DuckDB connection) runs the linking queries over the keys that come back."""

    def __init__(self, settings: Settings, con: duckdb.DuckDBPyConnection) -> None:
        self.settings, self.con = settings, con

    def _day(self, day: str, accounts: list[str] | None, held: ExitStack) -> bool:
        """View :data:`VIEW` over ``day``'s requests (of ``accounts`` only, when given, sent as
        a scratch file kept until ``held`` closes); False when the day has no request file."""
        from pyspark.sql import functions as F

        frame = read_requests(spark_session(self.settings), self.settings, day, COLUMNS)
        if frame is None:
            return False
        if accounts is not None:
            wanted = spark_requests.accounts_frame(self.settings, accounts, held)
            frame = frame.join(F.broadcast(wanted), "account_id", "left_semi")
        frame.createOrReplaceTempView(VIEW)
        return True

    def active(self, day: str, accounts: set[str]) -> set[str]:
        """Those of ``accounts`` with a request on ``day``."""
        from pyspark.sql import functions as F

        if not accounts:
            return set()
        frame = read_requests(spark_session(self.settings), self.settings, day,
                              ["account_id"])
        if frame is None:
            return set()
        with ExitStack() as held:
            wanted = spark_requests.accounts_frame(self.settings, accounts, held)
            got = frame.join(F.broadcast(wanted), "account_id", "left_semi").distinct()
            return set(got.toPandas()["account_id"])

    def days_of(self, accounts: set[str], start: str, end: str) -> list[tuple[str, list[str]]]:
        """(day, those of ``accounts`` active that day) for the lake days in [start, end)."""
        from pyspark.sql import functions as F

        if not accounts:
            return []
        days = [d for d in lake_dates(self.settings) if start <= d < end]
        frame = read_requests(spark_session(self.settings), self.settings, days, ["account_id"],
                              with_day=True)
        if frame is None:
            return []
        with ExitStack() as held:
            wanted = spark_requests.accounts_frame(self.settings, accounts, held)
            got = (frame.join(F.broadcast(wanted), "account_id", "left_semi")
                   .groupBy("day").agg(F.collect_set("account_id").alias("a")).toPandas())
        return [(str(d), sorted(a)) for d, a in zip(got["day"], got["a"], strict=True)]

    def keys(self, day: str, secret: str, accounts: list[str]) -> pd.DataFrame:
        """``returning_keys.day_keys`` of ``accounts`` on ``day`` (the scaffolds' popularity
        among those accounts, as there)."""
        with ExitStack() as held:
            if not accounts or not self._day(day, accounts, held):
                return _empty_keys()
            return self._collect(self._exact(secret).unionByName(self._shingles(secret)))

    def today(self, day: str, secret: str, idx: pd.DataFrame, max_key_accounts: int,
              payment_max_accounts: int) -> pd.DataFrame:
        """The rows of ``returning_keys.day_keys(day)`` (every account) that the linking query
        over index rows ``idx`` reads (module docstring)."""
        with ExitStack() as held:
            if idx.empty or not self._day(day, None, held):
                return _empty_keys()
            return self._today(day, secret, idx, max_key_accounts, payment_max_accounts, held)

    def _today(self, day: str, secret: str, idx: pd.DataFrame, max_key_accounts: int,
               payment_max_accounts: int, held: ExitStack) -> pd.DataFrame:
        """:meth:`today` over view :data:`VIEW`; the index keys sent as scratch files kept
        until ``held`` closes."""
        from pyspark.sql import functions as F

        on = ["key_type", "key"]
        exact_idx = self._index_keys(idx[idx["key_type"] != "shingle"], held, "dg_ret_exact")
        # each read twice below: computed once, kept on the executors until collected
        exact = self._exact(secret).join(F.broadcast(exact_idx), on, "left_semi").persist()
        shingles = self._shingles(secret).persist()
        try:
            cap = F.when(F.col("key_type") == "payment", F.lit(int(payment_max_accounts))) \
                .otherwise(F.lit(int(max_key_accounts)))
            capped = (exact.groupBy(*on).agg(F.countDistinct("account_id").alias("m"))
                      .where(F.col("m") <= cap).select(*on))
            shingle_idx = self._index_keys(idx[idx["key_type"] == "shingle"], held,
                                           "dg_ret_shingle")
            sharing = (shingles.join(F.broadcast(shingle_idx), on, "left_semi")
                       .select("account_id").distinct())
            return self._collect(exact.join(capped, on, "left_semi").unionByName(
                shingles.join(sharing, "account_id", "left_semi")))
        finally:
            exact.unpersist()
            shingles.unpersist()

    def _exact(self, secret: str) -> Any:
        return spark_session(self.settings).sql(keys_sql(VIEW, secret, "spark")).select(
            *KEY_COLUMNS)

    def _shingles(self, secret: str) -> Any:
        return spark_session(self.settings).sql(shingle_keys_sql(VIEW, secret, "spark")).select(
            *KEY_COLUMNS)

    def _index_keys(self, idx: pd.DataFrame, held: ExitStack, view: str) -> Any:
        """The distinct (key_type, key) of index rows ``idx`` as a Spark DataFrame: a scratch
        Parquet file in a hidden folder of the verdict folder (``spark_policy.sent_frame``, view
        ``view``) until ``held`` closes."""
        keys = idx[["key_type", "key"]].drop_duplicates()
        table = pa.table({c: pa.array(keys[c].astype(str).tolist(), pa.string())
                          for c in ("key_type", "key")})
        return sent_frame(spark_session(self.settings), self.settings, held, view, table,
                          "key_type string, key string")

    def _collect(self, frame: Any) -> pd.DataFrame:
        try:
            got = frame.toPandas()
        finally:
            spark_session(self.settings).catalog.dropTempView(VIEW)
        return got[KEY_COLUMNS] if len(got) else _empty_keys()
