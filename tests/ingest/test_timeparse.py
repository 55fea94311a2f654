"""Timestamp forms accepted by ingest, with hand-computed epoch microseconds."""

from __future__ import annotations

import pytest

from detector.ingest.timeparse import TimestampError, day_of, parse_timestamp

T = 1_795_787_112_123_000  # 2026-11-27T13:45:12.123Z


@pytest.mark.parametrize("value,flag", [
    ("2026-11-27T13:45:12.123Z", None),
    ("2026-11-27T15:45:12.123+02:00", None),
    ("2026-11-27 13:45:12.123Z", None),
    ("2026-11-27t13:45:12.123z", None),
    ("2026-11-27T13:45:12.123000999Z", None),
    (1_795_787_112_123, None),
    (1_795_787_112_123.0, None),
    ("1795787112123", "numeric_string_timestamp"),
    ("2026-11-27T13:45:12.123", "naive_timestamp"),
])
def test_accepted_forms(value, flag):
    flags: list[str] = []
    assert parse_timestamp(value, flags) == T
    assert flags == ([flag] if flag else [])


@pytest.mark.parametrize("value", ["", "yesterday", "2026-13-45T00:00:00Z", None, True, [1], {}])
def test_rejected_forms(value):
    with pytest.raises(TimestampError):
        parse_timestamp(value, [])


def test_day_of_is_utc_day():
    assert day_of(T) == "2026-11-27"
    assert day_of(parse_timestamp("2026-11-27T23:30:00-02:00", [])) == "2026-11-28"
