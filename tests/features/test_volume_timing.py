"""Volume and timing features, each checked against values computed by hand."""

from __future__ import annotations

import math

import pytest

from .feat_data import req, ts, write_day
from .feat_run import run_day

DAY = "2026-03-02"


@pytest.fixture(scope="module")
def rows(module_settings):
    settings = module_settings
    # account a: 4 requests at 10:00:00, 10:00:10, 10:00:20, 10:00:30.500 (model m1 x3, m2 x1),
    # then one at 13:05:00; tokens 10/100 each; keys k1,k2,k1,k2,k1
    a = [req("a", ts(DAY, 10, 0, 0), prompt_tokens=10, completion_tokens=100, api_key_id="k1"),
         req("a", ts(DAY, 10, 0, 10), prompt_tokens=10, completion_tokens=100, api_key_id="k2"),
         req("a", ts(DAY, 10, 0, 20), prompt_tokens=10, completion_tokens=100, api_key_id="k1"),
         req("a", ts(DAY, 10, 0, 30, 500), prompt_tokens=10, completion_tokens=100,
             api_key_id="k2", model="m2"),
         req("a", ts(DAY, 13, 5, 0), prompt_tokens=None, completion_tokens=None, api_key_id="k1")]
    # account b: one request in each of the 24 hours (flat activity), no tokens
    b = [req("b", ts(DAY, h, 30)) for h in range(24)]
    write_day(settings, DAY, a + b)
    return run_day(settings, DAY)


def test_volume(rows):
    a, b = rows["a"], rows["b"]
    assert (a["vol_requests"], a["vol_input_tokens"], a["vol_output_tokens"]) == (5, 40, 400)
    assert a["vol_active_hours"] == 2 and b["vol_active_hours"] == 24
    assert a["vol_peak_rpm"] == 4 and b["vol_peak_rpm"] == 1
    assert a["vol_top_model_share"] == pytest.approx(4 / 5)
    assert a["vol_distinct_models"] == 2
    assert a["date"].isoformat() == DAY


def test_hour_entropy(rows):
    # a: 4 in hour 10, 1 in hour 13 -> -(0.8 log2 0.8 + 0.2 log2 0.2)
    assert rows["a"]["tim_hour_entropy"] == pytest.approx(-(0.8 * math.log2(0.8) + 0.2 * math.log2(0.2)))
    assert rows["b"]["tim_hour_entropy"] == pytest.approx(math.log2(24))


def test_interarrival(rows):
    gaps = [10.0, 10.0, 10.5, 3*3600 + 4*60 + 29.5]
    mean = sum(gaps) / 4
    std = math.sqrt(sum((g - mean) ** 2 for g in gaps) / 4)
    cv = std / mean
    assert rows["a"]["tim_interarrival_cv"] == pytest.approx(cv, rel=1e-9)
    assert rows["a"]["tim_burstiness"] == pytest.approx((cv - 1) / (cv + 1), rel=1e-9)
    # b: 23 gaps of exactly 3600 s -> cv 0, burstiness -1, every pair periodic
    assert rows["b"]["tim_interarrival_cv"] == pytest.approx(0.0, abs=1e-9)
    assert rows["b"]["tim_burstiness"] == pytest.approx(-1.0)
    assert rows["b"]["tim_periodicity"] == 1.0


def test_periodicity(rows):
    # a's gap pairs: (10,10) periodic, (10,10.5) periodic (0.5 <= 1.05), (10.5, 11069.5) not
    assert rows["a"]["tim_periodicity"] == pytest.approx(2 / 3)


def test_night_share_and_offset(rows):
    # a: hours 10 and 13 only -> a 6-hour window with no requests exists; earliest start is 0 h
    assert rows["a"]["tim_night_share"] == 0.0
    assert rows["a"]["tim_apparent_utc_offset"] == 0.0
    # b: flat -> every 6-hour window holds 6 of 24
    assert rows["b"]["tim_night_share"] == pytest.approx(0.25)


def test_busy_window_hours(rows):
    # a: 4 of 5 requests in hour 10, 1 in hour 13: 90% of 5 is 4.5, so the run must hold all 5,
    # hours 10..13 -> 4; b: one request an hour, 90% of 24 is 21.6 -> 22 consecutive hours
    assert rows["a"]["tim_busy_window_hours"] == 4
    assert rows["b"]["tim_busy_window_hours"] == 22


def test_busy_window_crosses_midnight_and_leaves_out_a_tenth(settings):
    # 12 requests at 23:xx, 6 at 00:xx, 2 at 12:xx: 18 of 20 (exactly 90%) in hours 23 and 0,
    # one run across midnight UTC -> 2 hours; the two stray requests at noon are the tenth left
    # out (the span from first to last request would be 13 hours)
    day = [req("m", ts(DAY, 23, i)) for i in range(12)]
    day += [req("m", ts(DAY, 0, i)) for i in range(6)]
    day += [req("m", ts(DAY, 12, i)) for i in range(2)]
    write_day(settings, DAY, day)
    assert run_day(settings, DAY)["m"]["tim_busy_window_hours"] == 2


def test_busy_window_of_separate_sessions(settings):
    # four sessions of five requests at 08, 11, 14 and 17 UTC: low entropy (2 bits, four
    # equally busy hours), but no session can be left out (five requests are more than the
    # tenth of 20), so the shortest run holding 18 reaches from 08 to 17: 10 hours
    day = [req("s", ts(DAY, h, i)) for h in (8, 11, 14, 17) for i in range(5)]
    write_day(settings, DAY, day)
    row = run_day(settings, DAY)["s"]
    assert row["tim_hour_entropy"] == pytest.approx(2.0)
    assert row["tim_busy_window_hours"] == 10


def test_night_window_position(settings):
    # busy 08-21 UTC except quiet 00-05 (one request at 02:xx) -> quiet window start 0 -> offset 0;
    # shift: activity everywhere except 20..01 (6 hours) -> start 20 -> offset +4
    rows = [req("z", ts(DAY, h, 1)) for h in range(24) if h not in (20, 21, 22, 23, 0, 1)]
    write_day(settings, DAY, rows)
    z = run_day(settings, DAY)["z"]
    assert z["tim_night_share"] == 0.0
    assert z["tim_apparent_utc_offset"] == 4.0


def test_round_robin_evenness(rows):
    # a: k1 x3, k2 x2 -> entropy(0.6, 0.4) / log2(2)
    exp = -(0.6 * math.log2(0.6) + 0.4 * math.log2(0.4))
    assert rows["a"]["tim_round_robin_evenness"] == pytest.approx(exp)
    assert rows["b"]["tim_round_robin_evenness"] is None


def test_tied_times_and_sub_millisecond_truncation(settings):
    # two requests at the same instant, then 5 s later, then 5 s + 0.9 ms later: time within
    # the day is truncated to the millisecond, so gaps are [0, 5, 5] whatever the order of the
    # tied pair; the pair (0, 5) has a gap under 1 s (not a pair), (5, 5) is periodic
    import datetime as dt

    third = ts(DAY, 10, 0, 10) + dt.timedelta(microseconds=900)
    write_day(settings, DAY, [req("t", ts(DAY, 10)), req("t", ts(DAY, 10)), req("t", ts(DAY, 10, 0, 5)),
                              req("t", third)])
    row = run_day(settings, DAY)["t"]
    assert row["tim_interarrival_cv"] == pytest.approx(math.sqrt(2) / 2, rel=1e-12)
    assert row["tim_periodicity"] == 1.0
    assert row["vol_peak_rpm"] == 4 and row["vol_active_hours"] == 1
