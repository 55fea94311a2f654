"""Timing edges on a Spark cluster (``engine = "spark"``): the per-minute correlation and the
lockstep test of the candidate pairs, in Spark SQL over the day caches' minute counts.

The driver (``timing.lockstep_stats`` + ``timing.timing_pairs`` over ``window.minute_matrix``)
holds a sparse accounts x minutes matrix of every candidate account of the window; here the
window's ``minutes.parquet`` files are read by URI on the executors, the candidate pairs (on
the driver already: ``window.verify_candidates``) are sent there once, as a Parquet file of a
scratch folder read by URI (``lake.spark.sent_view``: not rows in the query plan), and only
one row of numbers per pair comes back; the edges' weights and evidence are made by the
driver's own code (``timing.timing_frame``). The same numbers as the driver's, bit for bit
(``tests/scale/test_cluster_timing.py``): every sum is of integer counts (exact in BIGINT, and
in the driver's float64 below 2^53), and the few double operations after them are the same
IEEE operations in the same order:

- correlation: ``cov = sum(x_a x_b) - sum_h(S_a,h S_b,h) / 60``, ``v = sum(x^2) - sum_h S_h^2 /
  60``, ``cov / sqrt(max(v_a, 0) max(v_b, 0))`` (0 where that is <= 1e-12), when both accounts
  are active in ``timing_min_minutes`` minutes (``MinuteMatrix.correlation``);
- lockstep: pairs of ``lockstep_min_events``..``lockstep_max_events`` requests each, within
  20% of each other; the running difference of their counts at each hour's end (a pre-filter,
  at most ``lockstep_max_lead``), then its largest absolute value over the minutes
  (``timing.lockstep_stats``).

Minute columns are clipped to the window as ``MinuteMatrix.from_counts`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.clusters import daycache
from detector.clusters.keys import PAIR_COLUMNS
from detector.clusters.params import ClusterParams
from detector.clusters.timing import MinuteMatrix, timing_frame
from detector.lake.spark import sent_view, spark_path
from detector.settings import Settings

#: Columns of the day cache's ``minutes.parquet``.
_MINUTES_SCHEMA = "account_id string, minute long, c long"


def window_start(day: str, days: int) -> int:
    """The window's first epoch minute (``window.minute_matrix``)."""
    end = date.fromisoformat(day) + timedelta(days=1)
    return int(pd.Timestamp(end, tz="UTC").timestamp()) // 60 - days * 1440


def _minutes_view(spark: Any, settings: Settings, day: str, days: int,
                  p: ClusterParams) -> None:
    """View ``dg_tm_minutes``: the window's cached minute counts, read by URI."""
    key = daycache.cache_key(p)
    files = [spark_path(settings, daycache.day_dir(settings, d, key) / "minutes.parquet")
             for d in daycache.window_days(settings, day, days)]
    frame = (spark.read.schema(_MINUTES_SCHEMA).parquet(*files) if files
             else spark.createDataFrame([], _MINUTES_SCHEMA))
    frame.createOrReplaceTempView("dg_tm_minutes")


def _lead_runs(pairs: str, counts: str, slot: str) -> str:
    """Spark SQL: per pair of ``pairs`` (src, dst) and slot of ``counts`` (account_id,
    ``slot``, c), the running difference of src's counts minus dst's in slot order (``run``):
    how far one account leads the other at each slot's end."""
    return f"""
               SELECT src, dst, sum(d) OVER (PARTITION BY src, dst ORDER BY {slot}
                                             ROWS UNBOUNDED PRECEDING) AS run
               FROM (SELECT src, dst, {slot}, sum(c) AS d FROM (
                         SELECT e.src, e.dst, t.{slot}, t.c FROM {pairs} e
                         JOIN {counts} t ON t.account_id = e.src
                         UNION ALL
                         SELECT e.src, e.dst, t.{slot}, -t.c FROM {pairs} e
                         JOIN {counts} t ON t.account_id = e.dst
                     ) u GROUP BY 1, 2, 3) g"""


def _stats_sql(p: ClusterParams, start: int, n_minutes: int) -> str:
    """Spark SQL: per pair of ``dg_tm_pairs``, corr, act_a, act_b, na, nb, max_lead (nulls
    where the driver has NaN)."""
    floor = f"CAST({float(p.lockstep_max_lead)!r} AS DOUBLE)"
    return f"""
    WITH acc AS (SELECT src AS account_id FROM dg_tm_pairs UNION SELECT dst FROM dg_tm_pairs),
    x AS (SELECT account_id, least(greatest(minute - {int(start)}, 0), {int(n_minutes) - 1})
                 AS col, sum(c) AS c
          FROM dg_tm_minutes m LEFT SEMI JOIN acc ON m.account_id = acc.account_id
          GROUP BY 1, 2),
    h AS (SELECT account_id, col DIV 60 AS hr, sum(c) AS c FROM x GROUP BY 1, 2),
    s AS (SELECT account_id, act, total,
                 CAST(sxx AS DOUBLE) - CAST(shh AS DOUBLE) / 60.0D AS v
          FROM (SELECT account_id, count(*) AS act, sum(c) AS total, sum(c * c) AS sxx
                FROM x GROUP BY 1) m
          JOIN (SELECT account_id, sum(c * c) AS shh FROM h GROUP BY 1) hh USING (account_id)),
    dot AS (SELECT p.src, p.dst, sum(a.c * b.c) AS d FROM dg_tm_pairs p
            JOIN x a ON a.account_id = p.src JOIN x b ON b.account_id = p.dst AND a.col = b.col
            GROUP BY 1, 2),
    hdot AS (SELECT p.src, p.dst, sum(a.c * b.c) AS d FROM dg_tm_pairs p
             JOIN h a ON a.account_id = p.src JOIN h b ON b.account_id = p.dst AND a.hr = b.hr
             GROUP BY 1, 2),
    st AS (SELECT p.src, p.dst, sa.act AS act_a, sb.act AS act_b, sa.total AS na,
                  sb.total AS nb,
                  CAST(coalesce(d.d, 0) AS DOUBLE) - CAST(coalesce(hd.d, 0) AS DOUBLE) / 60.0D
                      AS cov,
                  sqrt(greatest(sa.v, 0.0D) * greatest(sb.v, 0.0D)) AS denom
           FROM dg_tm_pairs p LEFT JOIN s sa ON sa.account_id = p.src
           LEFT JOIN s sb ON sb.account_id = p.dst
           LEFT JOIN dot d ON d.src = p.src AND d.dst = p.dst
           LEFT JOIN hdot hd ON hd.src = p.src AND hd.dst = p.dst),
    elig AS (SELECT src, dst FROM st
             WHERE least(na, nb) >= {int(p.lockstep_min_events)}
               AND greatest(na, nb) <= {int(p.lockstep_max_events)}
               AND CAST(least(na, nb) AS DOUBLE) >= 0.8D * CAST(greatest(na, nb) AS DOUBLE)),
    hl AS (SELECT src, dst FROM ({_lead_runs("elig", "h", "hr")}) r
           GROUP BY src, dst HAVING max(abs(run)) <= {floor}),
    ml AS (SELECT src, dst, max(abs(run)) AS max_lead FROM ({_lead_runs("hl", "x", "col")}) r
           GROUP BY src, dst)
    SELECT st.src, st.dst, st.act_a, st.act_b,
           CASE WHEN st.act_a >= {int(p.timing_min_minutes)}
                     AND st.act_b >= {int(p.timing_min_minutes)}
                THEN CASE WHEN st.denom > 1e-12D THEN st.cov / st.denom ELSE 0.0D END END AS corr,
           CASE WHEN ml.max_lead IS NOT NULL THEN st.na END AS na,
           CASE WHEN ml.max_lead IS NOT NULL THEN st.nb END AS nb, ml.max_lead
    FROM st LEFT JOIN ml ON ml.src = st.src AND ml.dst = st.dst"""


@contextmanager
def pair_stats(spark: Any, settings: Settings, day: str, days: int, cands: pd.DataFrame,
               p: ClusterParams) -> Iterator[Any]:
    """The Spark DataFrame of :func:`_stats_sql` over the pairs of ``cands`` (src, dst; sent
    by ``sent_view`` as view ``dg_tm_pairs``) in the window of ``days`` days ending on
    ``day``; it can be run inside the block only."""
    _minutes_view(spark, settings, day, days, p)
    table = pa.table({"src": pa.array(cands["src"].astype(str).tolist(), pa.string()),
                      "dst": pa.array(cands["dst"].astype(str).tolist(), pa.string())})
    with sent_view(spark, settings, daycache.cache_root(settings), "dg_tm_pairs", table,
                   "src string, dst string"):
        yield spark.sql(_stats_sql(p, window_start(day, days), days * 1440))


def timing_edges(spark: Any, settings: Settings, day: str, days: int, cands: pd.DataFrame,
                 p: ClusterParams) -> tuple[pd.DataFrame, Callable[[list[str]], MinuteMatrix]]:
    """Timing edges of the candidate pairs ``cands`` (src, dst) in the window of ``days`` days
    ending on ``day`` (its day caches built), computed on the cluster; and a function giving
    the ``MinuteMatrix`` of named accounts among the candidates' (the cluster features read
    the clustered accounts' rows only), read from the same files."""
    candidates = sorted(set(cands["src"].astype(str)) | set(cands["dst"].astype(str)))

    def fetch(accounts: list[str]) -> MinuteMatrix:
        return minute_rows(spark, settings, day, days, p,
                           sorted(set(accounts) & set(candidates)))

    if cands.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS), fetch
    with pair_stats(spark, settings, day, days, cands, p) as query:
        got = query.toArrow().to_pandas()
    out = cands[["src", "dst"]].drop_duplicates().merge(got, on=["src", "dst"], how="left")
    for col in ("corr", "act_a", "act_b", "na", "nb", "max_lead"):
        out[col] = out[col].astype("float64")  # nulls -> NaN, as the driver's frame
    return timing_frame(out, p.timing_min_corr, p.lockstep_max_lead), fetch


def minute_rows(spark: Any, settings: Settings, day: str, days: int, p: ClusterParams,
                accounts: list[str]) -> MinuteMatrix:
    """``window.minute_matrix`` of ``accounts`` over the window, its counts summed on the
    cluster from the day caches."""
    start, n_minutes = window_start(day, days), days * 1440
    if not accounts:
        counts = pd.DataFrame({"account_id": pd.Series(dtype=object),
                               "minute": pd.Series(dtype="int64"),
                               "c": pd.Series(dtype="int64")})
        return MinuteMatrix.from_counts(counts, start, n_minutes)
    _minutes_view(spark, settings, day, days, p)
    table = pa.table({"account_id": pa.array(accounts, pa.string())})
    with sent_view(spark, settings, daycache.cache_root(settings), "dg_tm_accounts", table,
                   "account_id string"):
        counts = spark.sql("""
            SELECT account_id, minute, sum(c) AS c FROM dg_tm_minutes m
            LEFT SEMI JOIN dg_tm_accounts a ON m.account_id = a.account_id
            GROUP BY account_id, minute""").toArrow().to_pandas()
    counts["minute"] = counts["minute"].astype(np.int64)
    return MinuteMatrix.from_counts(counts, start, n_minutes)
