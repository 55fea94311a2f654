"""Days: parsing a ``--date`` value (the days that have verdicts: ``detector.verdicts``).

Shared by the daily job, the hooks (events, export) and the report, so none of them imports
another for it.
"""

from __future__ import annotations

import datetime as dt

from detector.errors import InputError


def parse_date(text: str | dt.date | None, what: str = "--date") -> dt.date | None:
    """``YYYY-MM-DD`` (or a date) to a date; None stays None; anything else is an InputError."""
    if text is None or isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise InputError(f"{what}: expected a date YYYY-MM-DD, got {text!r}") from None
