"""The one definition of "the account's percentile among the day's accounts", used by the verdict
explanations (:mod:`detector.decide.explain`), the account page's tables and charts
(:mod:`detector.api.evidence`) and the reason sentences: the share of that day's accounts with a
value (nulls left out) that is lower, plus half of those with an equal value, times 100. "Higher
than P% of the day's accounts" reads it directly. Pure functions with no heavy imports, so the
pages can use them without loading the feature engine.
"""

from __future__ import annotations

import numpy as np


def midrank_percentiles(values, groups) -> np.ndarray:
    """Percentile (0-100) of each value within its group (a day), by the definition above;
    NaN where the value is null. ``values`` and ``groups`` are aligned pandas Series."""
    import pandas as pd

    v = pd.to_numeric(values, errors="coerce").astype("float64")
    by = v.groupby(groups)
    # average rank (1-based) = lower + (equal + 1) / 2, so rank - 0.5 = lower + equal / 2
    return ((by.rank(method="average") - 0.5) / by.transform("count") * 100).to_numpy()


def midrank_percentile_sql(column_sql: str, value: float | None) -> str:
    """The same percentile as a DuckDB aggregate over the rows of one day: ``column_sql`` is
    the (quoted, cast) column, ``value`` the account's value (NULL percentile when None)."""
    if value is None or value != value:
        return "CAST(NULL AS DOUBLE)"
    x = repr(float(value))
    return (f"100 * avg(CASE WHEN {column_sql} IS NULL THEN NULL WHEN {column_sql} < {x} "
            f"THEN 1.0 WHEN {column_sql} = {x} THEN 0.5 ELSE 0.0 END)")


def percentile_text(p: float | None) -> str:
    """How every page, report and sentence prints a percentile: a whole number ('93')."""
    if p is None or p != p:
        return "–"
    return f"{int(float(p) + 0.5)}"
