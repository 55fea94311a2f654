"""The day's percentile ranks and medians on Spark (over a temp view of the feature rows, as
decide reads ``account_features``) are the driver's, to the bit.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure. Uses the process's Spark session
(``local[threads]``, the one the feature parity tests use).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.decide.explain import day_medians, explain_rows, percentile_ranks
from detector.decide.spark_percentiles import view_day_ranks
from detector.lake.spark import spark_session
from detector.model.estimator import DistillationClassifier
from detector.settings import load_settings
from tests.spark_support import spark_marks

pytestmark = spark_marks()

DAYS = [dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 25)]


def _frame(n: int = 301, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    days = np.array(DAYS, dtype=object)[rng.integers(0, 3, n)]
    days[5] = None  # a row of no day: NaN, as pandas' groupby leaves it out
    hv_a = np.where(y == 1, 10.0, 0.0) + rng.normal(0, 1, n)
    hv_a[rng.random(n) < 0.1] = np.nan  # nulls: left out of ranks, counts and medians
    hv_a[7], hv_a[8] = np.inf, -np.inf
    ties = rng.integers(0, 4, n).astype(float)  # few distinct values: averaged ties
    ties[np.asarray(days == DAYS[2])] = np.nan  # a whole day without a value
    mixed = pd.Series(rng.normal(0, 1e6, n)).astype(object)
    mixed[3] = "not a number"  # coerced to null, as pd.to_numeric does
    frame = pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "date": days,
                          "hv_a": hv_a, "vol_ties": ties, "vol_mixed": mixed,
                          "vol_small": rng.normal(0, 1e-300, n)})
    return frame, y


def _view(settings, frame: pd.DataFrame, name: str = "pct_rows") -> str:
    """``frame`` as the Spark temp view ``name``: the feature columns as doubles, coerced as
    pd.to_numeric does; NaN stays NaN (as in stored feature files) except in ``vol_mixed``,
    whose unparseable value and NaN are nulls (both are left out of ranks)."""
    cols = {"account_id": pa.array(frame["account_id"], pa.string()),
            "date": pa.array(frame["date"], pa.date32())}
    for f in frame.columns.drop(["account_id", "date"]):
        values = pd.to_numeric(frame[f], errors="coerce").astype("float64").to_numpy()
        cols[f] = pa.array(values, from_pandas=f == "vol_mixed")
    spark_session(settings).createDataFrame(pa.table(cols)).createOrReplaceTempView(name)
    return name


def _same(got: np.ndarray, want: np.ndarray, rows: np.ndarray, what: str) -> None:
    assert np.array_equal(got[rows], want[rows], equal_nan=True), what  # bit for bit


def test_spark_percentiles_and_medians_are_the_drivers(tmp_path):
    frame, y = _frame()
    features = ["hv_a", "vol_ties", "vol_mixed", "vol_small", "not_in_frame"]
    rows = np.array([0, 3, 5, 7, 8, 11, 40, 41, 100, 299, 300])
    settings = load_settings(tmp_path / "home", engine="spark")
    view = _view(settings, frame)
    pct, med = view_day_ranks(settings, view, frame, features, rows)
    want_pct, want_med = percentile_ranks(frame, features), day_medians(frame, features)
    assert set(pct) == set(med) == set(want_pct) == {"hv_a", "vol_ties", "vol_mixed", "vol_small"}
    for f in pct:
        _same(pct[f], want_pct[f], rows, f"percentile {f}")
        _same(med[f], want_med[f], rows, f"median {f}")
        others = np.setdiff1d(np.arange(len(frame)), rows)
        assert np.isnan(pct[f][others]).all() and np.isnan(med[f][others]).all()
    assert np.isnan(pct["hv_a"][5]) and not np.isnan(pct["hv_a"][7])  # no day; +inf ranks top
    assert pct["hv_a"][7] > 99 and pct["hv_a"][8] < 1  # about 90 rows a day: top and bottom
    assert np.isnan(pct["vol_mixed"][3])
    # the verdict's explanations, fed the cluster's numbers, are the driver's
    fit = frame.drop(columns=["vol_mixed"])
    model = DistillationClassifier(max_iter=30).fit(fit.fillna(0.0), y)
    ranks = view_day_ranks(settings, view, fit, list(model.feature_names_in_), rows)
    assert explain_rows(model, fit, rows, ranks=ranks) == explain_rows(model, fit, rows)
