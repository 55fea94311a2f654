"""The ``account_features`` DuckDB view that rules and the classifier read.

Grain: one row per (account_id, date) active that day (the rows of ``features/daily``), with the
``w7_`` window columns of ``features/weekly`` and, when those stages have written them, the
``cov_*`` columns of ``features/coverage`` and ``cluster_id`` / ``clu_*`` of
``features/cluster``. An optional table that is absent contributes no columns.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from detector.errors import InputError
from detector.lake.db import register_parquet_view
from detector.settings import Settings

VIEW = "account_features"
OPTIONAL = (("weekly", "_af_weekly"), ("history", "_af_history"), ("coverage", "_af_coverage"),
            ("cluster", "_af_cluster"))


def account_features(con: duckdb.DuckDBPyConnection, settings: Settings, dates: list[str]) -> str:
    """Register view ``account_features`` restricted to ``dates`` on ``con``; return its name.

    Raises InputError when ``features/daily`` has no data yet (run the feature stage first).
    """
    if not register_parquet_view(con, "_af_daily", settings.features_dir / "daily"):
        raise InputError(f"no daily features under {settings.features_dir / 'daily'}: "
                         "run the feature stage (detector run) first")
    select = ["d.*"]
    joins = []
    for folder, view in OPTIONAL:
        if register_parquet_view(con, view, settings.features_dir / folder):
            cols = [r[0] for r in con.execute(f"DESCRIBE {view}").fetchall()]
            extra = [c for c in cols if c not in ("account_id", "date")]
            if not extra:
                continue
            alias = view.removeprefix("_af_")
            select += [f'{alias}."{c}"' for c in extra]
            joins.append(f"LEFT JOIN {view} AS {alias} ON {alias}.account_id = d.account_id "
                         f"AND CAST({alias}.date AS DATE) = CAST(d.date AS DATE)")
    wanted = ", ".join(f"DATE '{_iso(d)}'" for d in dates) or "NULL"
    con.execute(
        f"CREATE OR REPLACE VIEW {VIEW} AS SELECT {', '.join(select)} FROM _af_daily AS d "
        f"{' '.join(joins)} WHERE CAST(d.date AS DATE) IN ({wanted})"
    )
    return VIEW


def _iso(day: str) -> str:
    try:
        return dt.date.fromisoformat(str(day)).isoformat()
    except ValueError:
        raise InputError(f"date {day!r}: expected YYYY-MM-DD") from None
