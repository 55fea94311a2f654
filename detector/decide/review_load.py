"""Review-load change control: warn when a day sends many more accounts to review than usual.

A new model, rule or traffic shift that doubles the queue overnight should be noticed before
analysts drown in it. For each scored day ``D``: its count of ``review`` verdicts against the
median count of the (up to) 7 evaluated days before it. Warn when the day is more than 50% above
that median, and by at least ``MIN_EXTRA`` account-days (1 -> 2 reviews is not a jump), once at
least ``MIN_HISTORY`` earlier days are there to take a median of. Shown by ``detector run`` (stderr
and ``--json``) and ``detector daily`` (its warnings).
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from detector.settings import Settings

WINDOW_DAYS = 7
JUMP = 0.5          # more than 50% above the median
MIN_EXTRA = 5       # and at least this many more review account-days
MIN_HISTORY = 3     # earlier evaluated days needed for a median


def review_counts(settings: Settings) -> dict[str, int]:
    """Review verdicts per evaluated day (days with a verdict file; 0 when none was review)."""
    from detector.verdicts import connect

    con = connect(settings)
    try:
        rows = con.execute(
            "SELECT date AS d, count(*) FILTER (WHERE decision = 'review') "
            "FROM verdicts GROUP BY 1 ORDER BY 1").fetchall()
    finally:
        con.close()
    return {d.isoformat(): int(n) for d, n in rows}


def review_load_warnings(settings: Settings, dates: list[str],
                         counts: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """One warning per day of ``dates`` whose review count jumped (see the module doc)."""
    counts = review_counts(settings) if counts is None else counts
    out = []
    for day in sorted(set(dates)):
        if day not in counts:
            continue
        lo = (dt.date.fromisoformat(day) - dt.timedelta(days=WINDOW_DAYS)).isoformat()
        prior = [n for d, n in counts.items() if lo <= d < day]
        if len(prior) < MIN_HISTORY:
            continue
        median = float(statistics.median(prior))
        n = counts[day]
        if n > (1 + JUMP) * median and n - median >= MIN_EXTRA:
            ratio = None if median == 0 else round(n / median, 2)
            out.append({
                "kind": "review_load_jump", "date": day, "reviews": n,
                "median_7d": median, "days_in_median": len(prior), "ratio": ratio,
                "message": (f"review load jump on {day}: {n} account-days sent to review, "
                            f"{'x' + str(ratio) if ratio else 'from none'} against the median "
                            f"{median:g} of the {len(prior)} day(s) before (warning above "
                            f"+{JUMP:.0%}); check a recent model, rule or traffic change "
                            "(`detector model diff`, `detector rules diff`)"),
            })
    return out
