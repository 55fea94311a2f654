"""The stage's DuckDB memory cap: a day that does not fit under it runs again without it."""

from __future__ import annotations

import logging
import shutil

import detector.clusters as C
from detector.clusters import pipeline, store

from .test_daycache import DAYS, _assert_same_outputs, _lake, _outputs


def test_day_over_the_cap_runs_again_without_it(home, monkeypatch, caplog):
    _lake(home)
    C.compute(home, [DAYS[-1]])
    capped = _outputs(home, DAYS[-1])
    shutil.rmtree(store.clusters_root(home), ignore_errors=True)  # day caches too
    monkeypatch.setattr(pipeline, "DUCKDB_MEMORY_LIMIT", "1KB")  # no query fits
    with caplog.at_level(logging.WARNING, logger="detector.clusters.pipeline"):
        C.compute(home, [DAYS[-1]])
    assert any(DAYS[-1] in r.getMessage() and "1KB" in r.getMessage() for r in caplog.records)
    _assert_same_outputs(_outputs(home, DAYS[-1]), capped)
