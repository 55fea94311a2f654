"""The coverage columns (``features/coverage``), as declared in the column registry
(:mod:`detector.columns.coverage`, which holds their meanings).

``COLUMNS`` is a list of dicts with keys name, family, grain, dtype, unit, meaning, why (the
registry's entries, in stored order). Grain of every column: one value per (account_id, date),
computed over the account-day's sample of at most K distinct prompts.
"""

from __future__ import annotations

import detector.columns as registry

#: Written before the statistics: how many prompts the account-day had and how many were embedded.
COUNT_COLUMNS = ("cov_n_distinct", "cov_n_sampled")


def _as_dict(c: registry.Column) -> dict[str, str]:
    return {"name": c.name, "family": c.family, "grain": "account-day", "dtype": c.dtype,
            "unit": c.unit, "meaning": c.meaning, "why": c.why}


COLUMNS: list[dict[str, str]] = [_as_dict(c) for c in registry.columns("cov")]
COLUMN_NAMES = [c["name"] for c in COLUMNS]
#: Statistic names written as ``cov_<name>`` after the count columns, in order.
OUTPUT_STATS = tuple(n.removeprefix("cov_") for n in COLUMN_NAMES if n not in COUNT_COLUMNS)
