"""Late data: a day that arrives late marks every later scored day whose feature windows
include it for rescoring (7 days for ``w7_``, 28 for ``hist_``), so shuffled ingest order gives
the verdicts of an in-order run."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from detector.features.catalog import HISTORY_WINDOWS
from detector.ingest import dirty_dates, mark_scored
from detector.ingest.manifest import WINDOW_DAYS, connect, touch_dates
from detector.settings import load_settings


def _day(i: int) -> str:
    return (dt.date(2026, 1, 1) + dt.timedelta(days=i)).isoformat()


def _arrive(settings, days: list[str]) -> None:
    con = connect(settings)
    try:
        con.execute("BEGIN IMMEDIATE")
        touch_dates(con, dict.fromkeys(days, 10))
        con.execute("COMMIT")
    finally:
        con.close()


def test_window_covers_every_feature_family():
    assert max(7, *HISTORY_WINDOWS) <= WINDOW_DAYS


def test_a_late_day_marks_the_later_days_of_its_window(tmp_path):
    s = load_settings(tmp_path / "h")
    _arrive(s, [_day(0), _day(2), _day(27), _day(28), _day(40)])
    assert dirty_dates(s) == [_day(0), _day(2), _day(27), _day(28), _day(40)]
    mark_scored(s, dirty_dates(s))
    assert dirty_dates(s) == []
    _arrive(s, [_day(1)])                      # day 1 arrives late
    # day 1 itself, day 2 (w7_, hist_), day 27 (hist_ 28-day window: days 0..27) and day 28
    # (days 1..28); day 40 is outside every window
    assert dirty_dates(s) == [_day(1), _day(2), _day(27), _day(28)]
    assert dirty_dates(s, window_days=7) == [_day(1), _day(2)]
    mark_scored(s, [_day(1), _day(2), _day(27), _day(28)])
    assert dirty_dates(s) == []
    _arrive(s, [_day(40)])                     # more rows for an already scored day
    assert dirty_dates(s) == [_day(40)]


def _detector(home: Path, *args: str) -> str:
    env = {**os.environ, "DETECTOR_EMBEDDING_BACKEND": "hashing",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    code = "import sys; from detector.cli.main import main; sys.exit(main())"
    r = subprocess.run([sys.executable, "-c", code, "--home", str(home), *args],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def _verdicts(home: Path) -> dict[tuple[str, str], tuple]:
    rows = duckdb.sql(
        "SELECT account_id, CAST(date AS VARCHAR), decision, round(score, 6), reasons FROM "
        f"read_parquet('{home}/verdicts/date=*/verdicts.parquet', hive_partitioning = false)"
    ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


@pytest.mark.slow
def test_shuffled_day_order_gives_the_verdicts_of_an_in_order_run(tmp_path):
    sim = tmp_path / "sim"
    _detector(tmp_path / "x", "simulate", "--out", str(sim), "--accounts", "40", "--days", "4",
              "--seed", "5")
    files = sorted(sim.glob("requests-*.jsonl"))
    days = [f.name[len("requests-"):-len(".jsonl")] for f in files]
    in_order, shuffled = tmp_path / "in_order", tmp_path / "shuffled"
    _detector(in_order, "ingest", *map(str, files))
    _detector(in_order, "run")
    # shuffled: days 1, 3 and 4 first, then day 2 arrives late
    _detector(shuffled, "ingest", str(files[0]), str(files[2]), str(files[3]))
    _detector(shuffled, "run")
    _detector(shuffled, "ingest", str(files[1]))
    assert dirty_dates(load_settings(shuffled)) == days[1:]   # the late day and those after
    out = json.loads(_detector(shuffled, "run", "--json"))
    assert out["dates"] == days[1:]
    assert dirty_dates(load_settings(shuffled)) == []
    want, got = _verdicts(in_order), _verdicts(shuffled)
    assert set(got) == set(want)
    # decisions everywhere; scores and reasons on the days after the late one (whose windows
    # it entered) exactly as the in-order run
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in want.items()}
    later = {k for k in want if k[1] > days[1]}
    assert {k: got[k] for k in later} == {k: want[k] for k in later}
