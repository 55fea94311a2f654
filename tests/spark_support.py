"""Markers shared by the test modules that start a local Spark session: slow, and skipped when
pyspark or a Java runtime is missing, except under CI (``CI=true``), where a missing runtime is
a failure (the tests must run there)."""

from __future__ import annotations

import importlib.util
import os
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def spark_marks(*extra: pytest.MarkDecorator) -> list[pytest.MarkDecorator]:
    """``pytestmark`` of a Spark test module: slow, ``extra`` (e.g. a timeout), and the skips."""
    return [
        pytest.mark.slow,
        *extra,
        pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark not installed"),
        pytest.mark.skipif(shutil.which("java") is None and not IN_CI, reason="no Java runtime"),
    ]


def key_rows_connection(seed: int, null_every: int | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with table ``t`` of random blocking-key rows (account_id, key, slot,
    factor): 400 rows, 120 accounts over 60 keys in 3 slots; every ``null_every``-th key null."""
    rng = np.random.default_rng(seed)
    n = 400
    frame = pd.DataFrame({"account_id": [f"a{rng.integers(0, 120):03d}" for _ in range(n)],
                          "key": [f"k{rng.integers(0, 60)}" for _ in range(n)],
                          "slot": rng.integers(0, 3, n),
                          "factor": rng.choice([1.0, 0.5, 0.25], n)})
    if null_every:
        frame.loc[::null_every, "key"] = None
    con = duckdb.connect()
    con.register("t", frame)
    return con
