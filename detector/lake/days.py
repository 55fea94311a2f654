"""Days: parsing a ``--date`` value and listing the days that have verdicts.

Shared by the daily job, the hooks (events, export) and the report, so none of them imports
another for it.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from detector.errors import InputError


def parse_date(text: str | dt.date | None, what: str = "--date") -> dt.date | None:
    """``YYYY-MM-DD`` (or a date) to a date; None stays None; anything else is an InputError."""
    if text is None or isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise InputError(f"{what}: expected a date YYYY-MM-DD, got {text!r}") from None


def evaluated_days(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Days that have verdicts (the ``verdicts`` view of ``con``), oldest first."""
    try:
        con.execute("DESCRIBE verdicts").fetchall()
    except duckdb.Error:
        return []
    return [r[0] for r in con.execute(
        "SELECT DISTINCT CAST(date AS DATE) FROM verdicts ORDER BY 1").fetchall()]
