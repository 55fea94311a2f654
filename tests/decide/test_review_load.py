"""Change control: the daily run warns when the review load jumps above its 7-day median."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from detector.decide.review_load import review_counts, review_load_warnings
from detector.lake.io import write_parquet_atomic
from detector.settings import load_settings
from detector.verdicts import VERDICT_SCHEMA


def _days(start: str, n: int) -> list[str]:
    d0 = dt.date.fromisoformat(start)
    return [(d0 + dt.timedelta(days=i)).isoformat() for i in range(n)]


def test_jump_above_one_and_a_half_times_the_median_warns():
    days = _days("2026-11-01", 9)
    counts = dict(zip(days, [10, 12, 9, 11, 10, 40, 10, 16, 14], strict=True))
    # day 7 (2026-11-07): prior 10,12,9,11,10,40 -> median 10.5; 10 is no jump
    # day 8: prior (7 days) 10,12,9,11,10,40,10 -> median 10; 16 > 15 and +6 -> warn
    # day 9: prior 12,9,11,10,40,10,16 -> median 11; 14 < 16.5 -> no warning
    w = review_load_warnings(None, days, counts)
    assert [x["date"] for x in w] == ["2026-11-06", "2026-11-08"]
    assert w[1]["reviews"] == 16 and w[1]["median_7d"] == 10 and w[1]["days_in_median"] == 7
    assert w[1]["ratio"] == 1.6 and "review load jump on 2026-11-08" in w[1]["message"]


def test_no_warning_without_history_or_for_small_absolute_changes():
    days = _days("2026-11-01", 4)
    assert review_load_warnings(None, days[:3], dict(zip(days[:3], [1, 1, 50], strict=True))) == []
    counts = dict(zip(days, [1, 1, 1, 4], strict=True))  # x4, but only 3 more account-days
    assert review_load_warnings(None, days, counts) == []
    counts = dict(zip(days, [0, 0, 0, 6], strict=True))  # from none to 6
    w = review_load_warnings(None, days, counts)
    assert len(w) == 1 and w[0]["ratio"] is None and "from none" in w[0]["message"]


def _write(settings, day: str, reviews: int, allows: int = 3) -> None:
    rows = [{"account_id": f"a{i}", "date": dt.date.fromisoformat(day), "score": 0.6,
             "decision": "review" if i < reviews else "allow", "reasons": ""}
            for i in range(reviews + allows)]
    write_parquet_atomic(settings.verdicts_dir / f"date={day}" / "verdicts.parquet",
                         pa.Table.from_pylist(rows, schema=VERDICT_SCHEMA))


def test_counts_come_from_the_verdict_files(tmp_path):
    s = load_settings(tmp_path / "h")
    assert review_counts(s) == {} and review_load_warnings(s, ["2026-11-01"]) == []
    for day, n in zip(_days("2026-11-01", 5), [4, 5, 0, 5, 30], strict=True):
        _write(s, day, n)
    assert review_counts(s) == dict(zip(_days("2026-11-01", 5), [4, 5, 0, 5, 30], strict=True))
    w = review_load_warnings(s, ["2026-11-05"])
    assert len(w) == 1 and w[0]["reviews"] == 30 and w[0]["median_7d"] == 4.5
