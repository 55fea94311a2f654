"""From partial aggregates to feature columns: the catalog formulas applied to a partials frame
(one day's partials for ``daily``, 7 days' partials combined per WINDOW_AGG for ``weekly``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.features.catalog import FEATURES, INT_FEATURES, daily_columns, weekly_columns
from detector.features.partials import LEGACY_GAP_SUMS, WINDOW_AGG
from detector.features.sample import SAMPLE_COLUMNS


def feature_frame(p: pd.DataFrame, window: bool) -> pd.DataFrame:
    """Feature columns for each row of partials ``p`` (which has ``account_id`` and ``date``)."""
    out = {"account_id": p["account_id"].to_numpy(), "date": p["date"].to_numpy()}
    for f in FEATURES:
        if f.source != "partials" or (window and not f.window):
            continue
        values = f.derive(p).to_numpy(dtype="float64", na_value=np.nan)  # type: ignore[misc]
        out[("w7_" if window else "") + f.name] = values
    return pd.DataFrame(out)


#: ``features/weekly``'s value columns, in stored order: the ``w7_`` features and the day count.
def weekly_value_columns() -> list[str]:
    return weekly_columns() + ["w7_days_active"]


def weekly_rows(combined: pd.DataFrame) -> pa.Table:
    """``features/weekly`` rows from window partials combined per account (:func:`combine_window`
    on the driver, a ``groupBy`` on Spark; with ``date`` and ``w7_days_active``)."""
    df = feature_frame(combined, window=True)
    df["w7_days_active"] = combined["w7_days_active"].to_numpy()
    return to_arrow(df, weekly_value_columns())


def to_arrow(df: pd.DataFrame, columns: list[str]) -> pa.Table:
    """Arrow table with keys (account_id string, date date32) then ``columns`` in order."""
    arrays = {
        "account_id": pa.array(df["account_id"].astype(str).tolist(), pa.string()),
        "date": pa.array([_as_date(d) for d in df["date"]], pa.date32()),
    }
    for c in columns:
        base = c.removeprefix("w7_")
        col = pd.to_numeric(df[c], errors="coerce") if c in df else pd.Series(np.nan, index=df.index)
        if base in INT_FEATURES or c == "w7_days_active":
            arrays[c] = pa.array(col.round().astype("Int64"), pa.int64())
        else:
            arrays[c] = pa.array(col.astype("float64").to_numpy(), pa.float64(), from_pandas=True)
    return pa.table(arrays)


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def daily_table(partials: pd.DataFrame, sample: pd.DataFrame) -> pa.Table:
    """``features/daily`` rows: partial-based features joined with the sample-based ones."""
    df = feature_frame(partials, window=False)
    df = df.merge(sample, on="account_id", how="left") if len(sample) else df
    for c in SAMPLE_COLUMNS:
        if c not in df:
            df[c] = np.nan
    return to_arrow(df.sort_values("account_id", kind="stable"), daily_columns())


def day_tables(partials: pa.Table, sample: pa.Table, day: dt.date) -> tuple[pa.Table, pa.Table]:
    """(stored partials, ``features/daily``) of one day from the engine's partials and the
    sample features (Arrow in, Arrow out; one row per account, sorted by account_id)."""
    p = partials.sort_by("account_id")
    p = p.append_column("date", pa.array(np.full(p.num_rows, day, dtype="datetime64[D]"), pa.date32()))
    return p, daily_table(p.to_pandas(), sample.to_pandas())


def legacy_gap_sums(p: pd.DataFrame) -> pd.DataFrame:
    """Stored partials ``p`` with the current gap sums: a day stored before they were int64
    milliseconds holds float seconds under the old names (:data:`LEGACY_GAP_SUMS`), converted
    here and rounded to whole milliseconds (gaps always were whole milliseconds)."""
    for old, new, factor in LEGACY_GAP_SUMS:
        if new not in p and old in p:
            p = p.assign(**{new: (pd.to_numeric(p[old]) * factor).round()}).drop(columns=old)
    return p


def combine_window(frames: list[pd.DataFrame], day: str) -> pd.DataFrame:
    """Partials of several days combined per account following WINDOW_AGG (daily-only dropped)."""
    both = pd.concat([legacy_gap_sums(f) for f in frames], ignore_index=True)
    how = {c: a for c, a in WINDOW_AGG.items() if a != "none" and c in both}
    out = both.groupby("account_id", sort=True).agg(how)
    out["w7_days_active"] = both.groupby("account_id", sort=True).size()
    out = out.reset_index()
    out["date"] = dt.date.fromisoformat(day)
    return out
