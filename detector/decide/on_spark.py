"""What the driver reads of the day's feature rows when the decide stage runs on Spark.

With ``engine = "spark"`` the feature rows (one per account-day, some 250 columns) are assembled,
ruled, scored and ranked on the executors over a Spark view
(``detector.features.spark_assemble``). The driver's policy and outputs read a few columns of
every row and whole rows of the flagged account-days only, from the same stored files
(DuckDB's ``account_features`` view, projected):

- every row, :func:`driver_columns`: keys, ``org_id`` (added), ``cluster_id``,
  ``vol_requests``, ``w7_vol_requests``, ``tim_hour_entropy``, ``div_multiturn_share``,
  ``inf_distinct_end_users`` (``policy.apply_policy``; ``relay_streams.candidates``), ``hist_days_since_first_seen``,
  ``inf_account_age_days`` (``returning.link``), ``vol_output_tokens`` (``risk.frame_risk``),
  every column a rule reads (``explain.rule_values``: a hit's values, shadow hits on allowed
  rows included) and one ``cov_`` column where the view has any (``relay_streams.judge``
  scores a relay's streams with coverage features when the day had them);
- flagged rows, :func:`explained_rows`: every column (the explanations' values, the model's
  occlusion on the executors, ``explain.explain_rows``).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from detector.decide import distributed, spark_percentiles
from detector.decide.explain import explain_rows
from detector.decide.risk import OUTPUT_TOKENS
from detector.settings import Settings

#: Columns of every row the policy and outputs read (besides the rules' columns).
POLICY_COLUMNS = ("account_id", "date", "cluster_id", "vol_requests", "w7_vol_requests",
                  "tim_hour_entropy", "div_multiturn_share", "inf_distinct_end_users",
                  "hist_days_since_first_seen",
                  "inf_account_age_days", OUTPUT_TOKENS)


def driver_columns(present: list[str], ruleset) -> list[str]:
    """The columns of ``present`` (the view's, in order) the driver reads for every row."""
    wanted = set(POLICY_COLUMNS) | {c for r in ruleset.rules for c in r.columns}
    coverage = [c for c in present if c.startswith("cov_")]
    wanted |= set(coverage[:1])
    return [c for c in present if c in wanted]


def driver_frame(con: duckdb.DuckDBPyConnection, view: str, ruleset) -> pd.DataFrame:
    """Every row of ``view`` (ordered by date, account_id), :func:`driver_columns` only."""
    present = [r[0] for r in con.execute(f'DESCRIBE SELECT * FROM "{view}"').fetchall()]
    cols = ", ".join(f'"{c}"' for c in driver_columns(present, ruleset))
    return con.sql(f'SELECT {cols} FROM "{view}" ORDER BY date, account_id').df()


def full_rows(con: duckdb.DuckDBPyConnection, view: str, frame: pd.DataFrame,
              rows: np.ndarray) -> pd.DataFrame:
    """Every column of ``view`` for ``frame``'s rows at ``rows`` (ascending), in that order."""
    keys = frame[["account_id", "date"]].iloc[rows].reset_index(drop=True)
    con.register("_dg_flagged", keys)
    try:
        got = con.sql(f'SELECT v.* FROM "{view}" AS v JOIN _dg_flagged AS k '
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
