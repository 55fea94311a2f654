"""A 7-day window over partials stored before the gap sums became int64 milliseconds (float
seconds under ``gap_sum`` / ``gap_sq``) gives the same weekly rows as over current partials, on
the driver (pandas) and on Spark."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from detector.features import compute
from detector.features.compute import weekly_table
from detector.features.partials import LEGACY_GAP_SUMS
from detector.features.store import read_table, shift, write_table
from detector.settings import load_settings
from tests.spark_support import spark_marks

from .feat_data import req, ts, write_day

D0 = "2026-04-01"
DAYS = [shift(D0, k) for k in range(7)]


def _write_days(settings):
    # account a: day k has k + 2 requests k + 1 seconds apart, at hour k
    for k, day in enumerate(DAYS):
        rows = [req("a", ts(day, k, 0, i * (k + 1), ms=7 * i)) for i in range(k + 2)]
        rows.append(req(f"b{k}", ts(day, 12)))
        write_day(settings, day, rows)


def _as_legacy(settings, day):
    """Rewrite ``day``'s stored partials as the old code stored them (float seconds)."""
    t = read_table(settings, "partials", day)
    for old, new, factor in LEGACY_GAP_SUMS:
        i = t.schema.get_field_index(new)
        t = t.set_column(i, old, pc.divide(t.column(new).cast(pa.float64()), factor))
    write_table(settings, "partials", day, t)


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    """(home with current partials, home whose first four days are legacy partials)."""
    root = tmp_path_factory.mktemp("legacy")
    current = load_settings(root / "current")
    current.ensure_dirs()
    _write_days(current)
    compute(current, DAYS)
    legacy = load_settings(root / "legacy")
    shutil.copytree(current.features_dir, legacy.features_dir)
    for day in DAYS[:4]:
        _as_legacy(legacy, day)
    return current, legacy


def test_driver_window_reads_legacy_gap_sums(homes):
    current, legacy = homes
    assert "gap_sum" in read_table(legacy, "partials", DAYS[0]).column_names  # the case under test
    before = weekly_table(current, DAYS[-1])
    cv = before.to_pandas().set_index("account_id").loc["a", "w7_tim_interarrival_cv"]
    assert cv > 0
    assert weekly_table(legacy, DAYS[-1]).equals(before)


def _on_spark(fn):
    for mark in spark_marks():
        fn = mark(fn)
    return fn


@_on_spark
def test_spark_window_reads_legacy_gap_sums(homes):
    from detector.features import spark_windows

    current, legacy = homes
    before = weekly_table(current, DAYS[-1])
    got, _ = spark_windows.window_tables(legacy, DAYS[-1])
    assert got.column_names == before.column_names and got.num_rows == before.num_rows
    for name in before.column_names:
        x, y = before.column(name), got.column(name)
        if pa.types.is_floating(x.type):
            xv, yv = (c.to_numpy(zero_copy_only=False) for c in (x, y))
            np.testing.assert_allclose(xv, yv, rtol=1e-12, equal_nan=True, err_msg=name)
        else:
            assert x.to_pylist() == y.to_pylist(), name
