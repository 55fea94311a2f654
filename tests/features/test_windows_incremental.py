"""7-day windows from daily partials, incremental re-runs, percentiles and the assembled view."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from detector.errors import InputError
from detector.features import compute, percentiles
from detector.features.assemble import account_features
from detector.features.compute import weekly_table
from detector.features.store import shift, table_path
from detector.lake.io import write_parquet_atomic

from .feat_data import req, ts, write_day
from .feat_run import run_day, weekly

D0 = "2026-04-01"


def _write_days(settings):
    # account a: day k (k = 0..7) has k+1 requests, each logprobs on even days only, hour k
    for k in range(8):
        day = shift(D0, k)
        rows = [req("a", ts(day, k, 0, i), prompt_tokens=1, completion_tokens=2, logprobs=(k % 2 == 0))
                for i in range(k + 1)]
        rows.append(req(f"b{k}", ts(day, 12), prompt_tokens=5))
        write_day(settings, day, rows)


def test_weekly_sums_daily_partials(settings):
    _write_days(settings)
    days = [shift(D0, k) for k in range(8)]
    assert compute(settings, days) == days
    w = weekly(settings, days[-1])["a"]  # window = days 1..7 -> 2+3+...+8 = 35 requests
    assert w["w7_vol_requests"] == 35 and w["w7_days_active"] == 7
    assert w["w7_vol_output_tokens"] == 70
    # logprobs on days 2, 4, 6 -> 3 + 5 + 7 = 15 of 35
    assert w["w7_hv_logprobs_share"] == pytest.approx(15 / 35)
    assert w["w7_vol_peak_rpm"] == 8
    assert w["w7_vol_active_hours"] == 7
    counts = np.array([k + 1 for k in range(1, 8)], dtype=float)
    p = counts / counts.sum()
    assert w["w7_tim_hour_entropy"] == pytest.approx(-(p * np.log2(p)).sum())
    first = weekly(settings, days[0])["a"]
    assert first["w7_vol_requests"] == 1 and first["w7_days_active"] == 1


def test_rerun_recomputes_only_changed_day_and_its_windows(settings):
    _write_days(settings)
    days = [shift(D0, k) for k in range(8)]
    compute(settings, days)
    assert compute(settings, days) == []  # nothing changed
    before = table_path(settings, "weekly", days[0]).stat().st_mtime_ns
    write_day(settings, days[3], [req("a", ts(days[3], 23))], part=1)  # new file on day 3
    assert compute(settings, days) == [days[3]]
    assert table_path(settings, "weekly", days[0]).stat().st_mtime_ns == before  # window 0 untouched
    assert weekly(settings, days[-1])["a"]["w7_vol_requests"] == 36
    assert run_day(settings, days[3])["a"]["vol_requests"] == 5


def test_missing_day_is_an_input_error(settings):
    with pytest.raises(InputError, match="2026-01-09"):
        compute(settings, ["2026-01-09"])
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        compute(settings, ["yesterday"])


def test_percentiles_and_rank(settings):
    day = "2026-05-01"
    # accounts with 1..100 requests
    rows = [req(f"acct{n:03d}", ts(day, 1, i // 60, i % 60)) for n in range(1, 101) for i in range(n)]
    write_day(settings, day, rows)
    compute(settings, [day])
    grid = percentiles.load_grid(settings, day)
    q, v = grid["vol_requests"]
    assert v[0] == 1 and v[-1] == 100
    assert v[np.searchsorted(q, 0.5)] == pytest.approx(50.5)
    assert "w7_vol_requests" in grid
    # 99 of 100 accounts are strictly below the top one
    pct = percentiles.account_percentiles(settings, "acct100", day)
    assert pct["vol_requests"] == 1.0
    assert percentiles.account_percentiles(settings, "acct001", day)["vol_requests"] == 0.0
    assert percentiles.rank(q, v, 50.5) == pytest.approx(0.49, abs=0.011)
    assert percentiles.describe_top(0.999) == "top 0.1%"


def test_rank_with_ties():
    q = np.array([0.0, 0.5, 0.9, 1.0])
    v = np.array([0.0, 0.0, 0.0, 10.0])
    assert percentiles.rank(q, v, 0.0) == 0.0  # ties: conservative
    assert percentiles.rank(q, v, 5.0) == pytest.approx(0.95)
    assert percentiles.rank(q, v, 11.0) == 1.0


def test_account_features_view(settings):
    day = "2026-05-02"
    write_day(settings, day, [req("a", ts(day, 1)), req("b", ts(day, 2))])
    compute(settings, [day])
    import datetime as dt

    import pyarrow as pa
    cov = pa.table({"account_id": ["a"], "date": pa.array([dt.date(2026, 5, 2)]), "cov_x": [0.5]})
    write_parquet_atomic(settings.features_dir / "coverage" / f"date={day}" / "part-0.parquet", cov)
    con = duckdb.connect()
    assert account_features(con, settings, [day]) == "account_features"
    rows = con.execute("SELECT account_id, vol_requests, w7_vol_requests, cov_x FROM account_features "
                       "ORDER BY account_id").fetchall()
    assert rows == [("a", 1, 1, 0.5), ("b", 1, 1, None)]
    cols = [r[0] for r in con.execute("DESCRIBE account_features").fetchall()]
    assert "cluster_id" not in cols and cols.count("date") == 1
    account_features(con, settings, ["2026-05-03"])
    assert con.execute("SELECT count(*) FROM account_features").fetchone() == (0,)


def test_account_features_without_daily(settings):
    with pytest.raises(InputError, match="daily"):
        account_features(duckdb.connect(), settings, ["2026-05-02"])


def test_a_window_mixing_decimal_and_integer_partials_gives_the_same_rows(settings):
    # DuckDB stores sums of counts as decimal(38,0), Spark as plain numbers (pandas reads an
    # int64 column with nulls as float64): a home that switched engine holds both in one window
    import pyarrow as pa

    from detector.features.store import read_table, write_table

    _write_days(settings)
    days = [shift(D0, k) for k in range(8)]
    compute(settings, days)
    before = weekly_table(settings, days[-1])
    p = read_table(settings, "partials", days[-2])
    assert any(pa.types.is_decimal(f.type) for f in p.schema)  # the case under test
    as_floats = pa.table({f.name: (p.column(f.name).cast(pa.float64()) if pa.types.is_decimal(f.type)
                                   else p.column(f.name)) for f in p.schema})
    write_table(settings, "partials", days[-2], as_floats)
    assert weekly_table(settings, days[-1]).equals(before)
