"""The ``hist_`` family: the account against its own history, on a 36-day hand-made lake.

Accounts: ``steady`` (about 60 requests every day, same mix), ``turn`` (40 ordinary requests a
day, then on day 33 a harvesting job: 10x the requests, short prompts, answers cut at the length
limit), ``late`` (first seen on day 32: 3 days of history on day 35), ``weekday`` (no traffic at
weekends: the baseline is its active days, not zeros).
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import time

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from detector.features import catalog, compute, engine, history
from detector.features.assemble import account_features
from detector.features.store import read_state, shift, table_path
from detector.settings import Settings, load_settings

from .feat_data import req, ts, write_day

D0 = "2026-03-02"  # a Monday
N_DAYS = 36
HARVEST = 33
DAYS = [shift(D0, k) for k in range(N_DAYS)]
Z = [f"hist_{m}_z{w}" for m in catalog.HISTORY_METRICS for w in catalog.HISTORY_WINDOWS]


def _rows(k: int, rnd: random.Random) -> list[dict]:
    day = DAYS[k]
    rows = []
    for i in range(60 + rnd.randint(-6, 6)):
        rows.append(req("steady", ts(day, 8 + i % 10, i % 60, rnd.randint(0, 59)),
                        prompt=f"summarise ticket {rnd.randint(0, 10**6)} for the {i % 7} desk",
                        prompt_tokens=300 + rnd.randint(-30, 30), completion_tokens=120 + rnd.randint(-15, 15),
                        finish_reason="length" if i % 20 == 0 else "stop"))
    harvest = k == HARVEST
    for i in range(400 if harvest else 40):
        rows.append(req("turn", ts(day, i % 24, i % 60, i % 59),
                        prompt=f"explain concept {i} of subject {rnd.randint(0, 999)}",
                        prompt_tokens=15 if harvest else 200, completion_tokens=4000 if harvest else 180,
                        finish_reason="length" if harvest else "stop"))
    if k >= 32:
        rows.append(req("late", ts(day, 3), prompt="hi there", prompt_tokens=5, completion_tokens=9,
                        finish_reason="stop"))
    if k % 7 < 5:
        for i in range(20):
            rows.append(req("weekday", ts(day, 9, i), prompt=f"translate line {i} {k}",
                            prompt_tokens=50, completion_tokens=55, finish_reason="stop"))
    return rows


@pytest.fixture(scope="module")
def home(module_settings: Settings) -> Settings:
    rnd = random.Random(7)
    for k in range(N_DAYS):
        write_day(module_settings, DAYS[k], _rows(k, rnd))
    compute(module_settings, DAYS)
    return module_settings


def _hist(settings: Settings, day: str) -> dict[str, dict]:
    return {r["account_id"]: r for r in pq.read_table(table_path(settings, "history", day)).to_pylist()}


def _daily(settings: Settings, day: str) -> dict[str, dict]:
    return {r["account_id"]: r for r in pq.read_table(table_path(settings, "daily", day)).to_pylist()}


def test_schema_and_keys(home):
    t = pq.read_table(table_path(home, "history", DAYS[-1]))
    assert t.column_names == ["account_id", "date", *catalog.history_columns()]
    assert str(t.schema.field("date").type) == "date32[day]"
    for name in catalog.history_columns():
        kind = "int64" if name in catalog.INT_FEATURES else "double"
        assert str(t.schema.field(name).type) == kind, name
    daily = pq.read_table(table_path(home, "daily", DAYS[-1]))
    assert t.column("account_id").to_pylist() == daily.column("account_id").to_pylist()
    assert not set(catalog.history_columns()) & set(daily.column_names)


def test_steady_heavy_account_stays_near_zero(home):
    for k in range(N_DAYS):
        h = _hist(home, DAYS[k])["steady"]
        assert h["hist_days_since_first_seen"] == k
        assert h["hist_baseline_days_28"] == min(k, 28) and h["hist_baseline_days_7"] == min(k, 7)
        if k < catalog.HISTORY_MIN_DAYS:
            assert all(h[c] is None for c in Z), (k, h)
            continue
        for c in Z:
            assert h[c] is not None and abs(h[c]) < 3.0, (DAYS[k], c, h[c])


def test_harvesting_day_stands_out(home):
    h = _hist(home, DAYS[HARVEST])["turn"]
    for w in catalog.HISTORY_WINDOWS:
        assert h[f"hist_requests_z{w}"] > 10
        assert h[f"hist_output_input_z{w}"] > 10
        assert h[f"hist_length_share_z{w}"] > 10
    # the same account before and after the job: the median ignores the one outlier day
    for k in (HARVEST - 1, HARVEST + 1, HARVEST + 2):
        h = _hist(home, DAYS[k])["turn"]
        assert abs(h["hist_requests_z28"]) < 3 and abs(h["hist_output_input_z28"]) < 3, DAYS[k]
    # nobody else moves that day
    assert abs(_hist(home, DAYS[HARVEST])["steady"]["hist_requests_z28"]) < 3


def test_short_history_is_null(home):
    for j, k in enumerate(range(32, N_DAYS)):
        h = _hist(home, DAYS[k])["late"]
        assert h["hist_days_since_first_seen"] == j and h["hist_baseline_days_28"] == j
        assert all(h[c] is None for c in Z), h


def test_weekday_account_baseline_is_its_active_days(home):
    monday = DAYS[35]  # 35 % 7 == 0
    h = _hist(home, monday)["weekday"]
    assert h["hist_baseline_days_7"] == 5 and h["hist_baseline_days_28"] == 20
    assert h["hist_requests_z7"] == pytest.approx(0.0)  # 20 requests, as on every active day
    assert "weekday" not in _hist(home, DAYS[34])  # Sunday: no traffic, no row


def _robust_z(x: float, base: list[float], floor: float) -> float | None:
    b = np.array([v for v in base if v is not None and not np.isnan(v)])
    if len(b) < catalog.HISTORY_MIN_DAYS or x is None or np.isnan(x):
        return None
    med = np.median(b)
    return (x - med) / max(catalog.HISTORY_MAD_SCALE * np.median(np.abs(b - med)), floor)


def test_values_match_the_formula(home):
    def metrics(row):
        return {"requests": np.log1p(row["vol_requests"]),
                "output_input": np.log((row["vol_output_tokens"] + 1) / (row["vol_input_tokens"] + 1)),
                "length_share": row["hv_length_finish_share"],
                "word_entropy": row["div_word_ngram_entropy"]}

    for k, acct in ((N_DAYS - 1, "steady"), (HARVEST, "turn"), (12, "steady")):
        today = metrics(_daily(home, DAYS[k])[acct])
        h = _hist(home, DAYS[k])[acct]
        for w in catalog.HISTORY_WINDOWS:
            prior = [_daily(home, DAYS[j]).get(acct) for j in range(max(0, k - w), k)]
            prior = [metrics(r) for r in prior if r is not None]
            for m, (floor, _) in catalog.HISTORY_METRICS.items():
                want = _robust_z(today[m], [p[m] for p in prior], floor)
                got = h[f"hist_{m}_z{w}"]
                assert (got is None) == (want is None), (acct, k, m, w)
                if want is not None:
                    assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (acct, k, m, w)


def test_in_account_features_and_catalog(home):
    con = duckdb.connect()
    account_features(con, home, [DAYS[HARVEST]])
    row = con.execute("SELECT hist_requests_z28, hist_days_since_first_seen, w7_vol_requests "
                      "FROM account_features WHERE account_id = 'turn'").fetchone()
    assert row[0] > 10 and row[1] == HARVEST and row[2] > 0
    assert set(catalog.history_columns()) <= catalog.known_columns()
    md = catalog.render_markdown()
    for f in catalog.HISTORY:
        assert f.name.startswith("hist_") and f.unit and f.meaning and f.why and f.formula
        assert f.source == "history" and f.derive is None
        assert f"`{f.name}`" in md
    assert "hist_requests_z7" not in catalog.daily_columns()


def _copy(home: Settings, tmp_path) -> Settings:
    s = load_settings(tmp_path / "copy")
    shutil.copytree(home.home, s.home, copy_function=shutil.copy2)  # keeps mtimes: same fingerprints
    return s


def test_incremental_reruns(home, tmp_path):
    s = _copy(home, tmp_path)
    path = lambda d: table_path(s, "history", d)  # noqa: E731
    mtimes = {d: path(d).stat().st_mtime_ns for d in DAYS}
    assert compute(s, DAYS) == []
    assert {d: path(d).stat().st_mtime_ns for d in DAYS} == mtimes  # nothing rewritten
    # late data for day 20: that day and every later one (their window or first-seen inputs moved)
    time.sleep(0.01)
    write_day(s, DAYS[20], [req("steady", ts(DAYS[20], 23))], part=1)
    assert compute(s, [DAYS[20]]) == [DAYS[20]]
    assert all(path(d).stat().st_mtime_ns == mtimes[d] for d in DAYS[:20])
    assert all(path(d).stat().st_mtime_ns != mtimes[d] for d in DAYS[20:])
    assert all(read_state(s, d)["history"] for d in DAYS)
    # a backfilled day before the lake's first: first-seen moves for every later day
    early = shift(D0, -1)
    write_day(s, early, [req("steady", ts(early, 10))])
    compute(s, [early])
    assert _hist(s, DAYS[-1])["steady"]["hist_days_since_first_seen"] == N_DAYS
    assert _hist(s, DAYS[-1])["turn"]["hist_days_since_first_seen"] == N_DAYS - 1
    assert _hist(s, DAYS[-1])["late"]["hist_days_since_first_seen"] == 3


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark not installed")
@pytest.mark.skipif(shutil.which("java") is None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
                    reason="no Java runtime")
def test_spark_history_matches_duckdb(home, tmp_path, monkeypatch):
    """The same ``history_expr`` on Spark gives the same tables, its inputs (partials, daily
    word entropy, first seen) read from the stored files by the executors, never bound from
    the driver: also across a day written by the other engine (int64 sums where DuckDB writes
    decimals) and a day without its daily file (word entropy null, as on DuckDB)."""
    from .test_parity import _compare

    s = _copy(home, tmp_path)
    shutil.rmtree(s.features_dir / "history")
    shutil.rmtree(s.features_dir / "first_seen")  # merged again, on the executors
    mixed, no_daily = DAYS[5], DAYS[-3]
    p = pq.read_table(table_path(s, "partials", mixed))
    for c in ("in_tok", "out_tok"):
        p = p.set_column(p.column_names.index(c), c, p.column(c).cast("int64"))
    pq.write_table(p, table_path(s, "partials", mixed))
    table_path(s, "daily", no_daily).unlink()
    # the reference for the days that read the missing daily file: DuckDB on the same lake
    ref = _copy(s, tmp_path / "ref")
    duck = engine.connect(ref, "duckdb")
    try:
        assert history.update(ref, duck, DAYS[-3:], [], force=True) == DAYS[-3:]
    finally:
        duck.close()
    bound = []
    real_bind = engine.Engine.bind_arrow
    monkeypatch.setattr(engine.Engine, "bind_arrow", lambda e, v, t: bound.append(v) or real_bind(e, v, t))
    monkeypatch.setattr(history, "_day_rows", lambda *a: pytest.fail("partials read by the driver"))
    monkeypatch.setattr(history, "merge_first_seen", lambda *a: pytest.fail("first seen merged by the driver"))
    eng = engine.connect(s, "spark")
    try:
        assert history.update(s, eng, DAYS, [], force=True) == DAYS
    finally:
        eng.close()
    assert set(bound) == {"dg_hist_targets"}  # only the batch's day numbers
    first = history.first_seen_path
    assert pq.read_table(first(s)).equals(pq.read_table(first(home)))
    for d in DAYS:
        want = ref if d >= no_daily else home
        _compare(pq.read_table(table_path(want, "history", d)), pq.read_table(table_path(s, "history", d)),
                 f"history/{d}")
    assert _hist(s, no_daily)["steady"]["hist_word_entropy_z28"] is None
    assert _hist(s, DAYS[-1])["steady"]["hist_word_entropy_z28"] is not None
    assert all(_hist(s, d)["late"][c] is None for d in DAYS[32:] for c in Z)  # short history
