"""What the driver reads of the day's feature rows when the decide stage runs on Spark.

With ``engine = "spark"`` the feature rows (one per account-day, some 250 columns) are assembled,
ruled, scored, decided and ranked on the executors over a Spark view
(``detector.features.spark_assemble``; the policy and risk: ``detector.decide.spark_policy``).
What the driver reads of them:

- every row: its compact verdict row, with the few values the later steps read
  (:func:`driver_frame`: keys, ``cluster_id``, ``inf_distinct_end_users`` for the relay-stream
  candidates, ``hist_days_since_first_seen`` and ``inf_account_age_days`` for the
  returning-actor test);
- rows with rule hits (shadow hits on allowed rows included), :func:`hit_rule_values`: the
  columns those rules read (``explain.rule_values``: the values that made them fire), from the
  stored files (DuckDB's ``account_features`` view, semi-joined with their keys);
- flagged rows, :func:`explained_rows`: every column (the explanations' values, the model's
  occlusion on the executors, ``explain.explain_rows``).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from detector.decide import distributed, spark_percentiles
from detector.decide.explain import explain_rows, rule_values
from detector.decide.spark_policy import DRIVER_COLUMNS
from detector.settings import Settings


def view_days(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    """The days (YYYY-MM-DD) of ``view``'s rows (one value per day comes back)."""
    got = con.sql(f'SELECT DISTINCT CAST(date AS DATE) AS d FROM "{view}" '
                  "WHERE date IS NOT NULL ORDER BY d").fetchall()
    return [d.isoformat() for (d,) in got]


def driver_frame(verdicts: pd.DataFrame, coverage: str | None) -> pd.DataFrame:
    """The feature values of every row the driver's later steps read, from the verdict rows
    ``spark_policy.decide_view`` returned: keys, ``cluster_id`` and :data:`DRIVER_COLUMNS`.
    ``coverage``: the name of a ``cov_`` column of the view, if it has any, present here
    with no values: ``relay_streams.judge`` reads only whether the day had coverage features."""
    cols = ["account_id", "date", "cluster_id", *(c for c in DRIVER_COLUMNS if c in verdicts)]
    frame = verdicts[cols].copy()
    if coverage is not None:
        frame[coverage] = np.nan
    return frame


def hit_rule_values(con: duckdb.DuckDBPyConnection, view: str, frame: pd.DataFrame,
                    hits: list[list[str]], columns: dict[str, tuple]) -> list[dict[str, dict]]:
    """``explain.rule_values(frame, hits, columns)`` with the rules' columns read from ``view``
    for the rows with hits only (``frame``: keys, one row per verdict; ``hits``: each row's hit
    rule names)."""
    rows = np.flatnonzero([len(h) > 0 for h in hits])
    out: list[dict[str, dict]] = [{} for _ in hits]
    if len(rows) == 0:
        return out
    wanted = sorted({c for i in rows for name in hits[i] for c in columns.get(name, ())})
    sub = full_rows(con, view, frame, rows, wanted)
    for i, values in zip(rows, rule_values(sub, [hits[i] for i in rows], columns), strict=True):
        out[int(i)] = values
    return out


def full_rows(con: duckdb.DuckDBPyConnection, view: str, frame: pd.DataFrame,
              rows: np.ndarray, columns: list[str] | None = None) -> pd.DataFrame:
    """Every column of ``view`` (or its ``columns`` that it has, after the keys) for
    ``frame``'s rows at ``rows`` (ascending), in that order."""
    keys = frame[["account_id", "date"]].iloc[rows].reset_index(drop=True)
    present = [r[0] for r in con.execute(f'DESCRIBE SELECT * FROM "{view}"').fetchall()]
    picked = ("v.*" if columns is None else ", ".join(
        f'v."{c}"' for c in dict.fromkeys(["account_id", "date", *columns]) if c in present))
    con.register("_dg_flagged", keys)
    try:
        got = con.sql(f'SELECT {picked} FROM "{view}" AS v JOIN _dg_flagged AS k '
                      "ON v.account_id = k.account_id AND v.date = k.date "
                      "ORDER BY v.date, v.account_id").df()
    finally:
        con.unregister("_dg_flagged")
    same = len(got) == len(keys) and (got["account_id"].to_numpy() == keys["account_id"]
                                      .to_numpy()).all()
    if not same:
        raise RuntimeError(f"view {view!r}: {len(got)} full rows read for {len(keys)} flagged "
                           "account-days, or not the same ones (duplicate account-days?)")
    return got


def explained_rows(settings: Settings, con: duckdb.DuckDBPyConnection, view: str,
                   spark_view: str, model, frame: pd.DataFrame, rows: np.ndarray
                   ) -> dict[int, list[dict]]:
    """:func:`detector.decide.explain.explain_rows` of ``frame``'s rows at ``rows`` (positions
    of ``frame``): the occlusions on the executors over the flagged rows, the day's percentile
    ranks over the Spark view, the values from the flagged rows' full columns."""
    rows = np.asarray(rows, np.int64)
    if len(rows) == 0:
        return {}
    sub = full_rows(con, view, frame, rows)
    local = np.arange(len(rows))
    pct, med = spark_percentiles.view_day_ranks(settings, spark_view, frame,
                                                list(model.feature_names_in_), rows)
    ranks = ({f: v[rows] for f, v in pct.items()}, {f: v[rows] for f, v in med.items()})
    got = explain_rows(model, sub, local, ranks=ranks,
                       contributions=distributed.explain(settings, model, sub, local))
    return {int(rows[i]): items for i, items in got.items()}
