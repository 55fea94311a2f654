"""Population percentiles per feature per day, so reasons can say "top 0.1% of accounts".

Stored grain: one row per (date, feature, q) in ``features/percentiles/date=D/part-0.parquet``
with ``value`` (the exact q-quantile over the accounts with a non-null value, numpy 'linear'
interpolation) and ``n_accounts`` (how many non-null values). Covers daily and ``w7_`` columns.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from detector.features import store
from detector.settings import Settings

GRID = np.unique(np.concatenate([np.linspace(0, 1, 101), [0.995, 0.999, 0.9999]]))

SCHEMA = pa.schema([("date", pa.date32()), ("feature", pa.string()), ("q", pa.float64()),
                    ("value", pa.float64()), ("n_accounts", pa.int64())])


def percentile_table(day: str, tables: list[pa.Table]) -> pa.Table:
    """The quantile grid of every numeric feature column of ``tables`` (keys excluded)."""
    rows: dict[str, list] = {n: [] for n in SCHEMA.names}
    d = dt.date.fromisoformat(day)
    for t in tables:
        for name in t.column_names:
            if name in ("account_id", "date"):
                continue
            v = t.column(name).to_numpy(zero_copy_only=False).astype("float64")
            v = v[~np.isnan(v)]
            if len(v) == 0:
                continue
            qs = np.quantile(v, GRID)
            rows["date"] += [d] * len(GRID)
            rows["feature"] += [name] * len(GRID)
            rows["q"] += GRID.tolist()
            rows["value"] += qs.tolist()
            rows["n_accounts"] += [len(v)] * len(GRID)
    return pa.table(rows, schema=SCHEMA)


def rank(grid_q: np.ndarray, grid_v: np.ndarray, value: float) -> float | None:
    """Estimated share of accounts with a value strictly below ``value`` (0-1).

    Conservative with ties: a value equal to a plateau of the grid gets the plateau's lowest q.
    Between two grid points it interpolates linearly. ``1 - rank`` is the "top x" share.
    """
    if value is None or np.isnan(value) or len(grid_q) == 0:
        return None
    below = np.nonzero(grid_v < value)[0]
    if len(below) == 0:
        return 0.0
    i = below[-1]
    if i == len(grid_q) - 1:
        return 1.0
    lo_v, hi_v, lo_q, hi_q = grid_v[i], grid_v[i + 1], grid_q[i], grid_q[i + 1]
    if hi_v <= value:
        return float(hi_q)
    return float(lo_q + (hi_q - lo_q) * (value - lo_v) / (hi_v - lo_v))


def load_grid(settings: Settings, day: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{feature: (q, value)} for ``day`` (empty if not computed)."""
    path = store.table_path(settings, "percentiles", day)
    if not path.exists():
        return {}
    t = pq.read_table(path).to_pandas()
    return {f: (g["q"].to_numpy(), g["value"].to_numpy()) for f, g in t.groupby("feature", sort=False)}


def account_percentiles(settings: Settings, account_id: str, day: str,
                        features: list[str] | None = None) -> dict[str, float]:
    """{feature: share of accounts strictly below this account's value} for one account-day.

    Reads the account's row from ``features/daily`` and ``features/weekly`` of ``day``; features
    with a null value or no population are left out. ``1 - p`` is the "top" share.
    """
    grid = load_grid(settings, day)
    out: dict[str, float] = {}
    for table in ("daily", "weekly"):
        path = store.table_path(settings, table, day)
        if not path.exists():
            continue
        t = pq.read_table(path, filters=[("account_id", "=", account_id)])
        if t.num_rows == 0:
            continue
        for name in t.column_names:
            if name in ("account_id", "date") or name not in grid or (features and name not in features):
                continue
            value = t.column(name)[0].as_py()
            r = rank(*grid[name], float(value)) if value is not None else None
            if r is not None:
                out[name] = r
    return out


def describe_top(share_below: float) -> str:
    """'top 0.1%' style text for a rank from :func:`rank` / :func:`account_percentiles`."""
    top = max(0.0, 1.0 - share_below) * 100
    if top < 0.01:
        return "top 0.01%"
    if top < 1:
        return f"top {top:.2g}%"
    return f"top {top:.0f}%"
