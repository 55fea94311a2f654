"""Markers shared by the test modules that start a local Spark session: slow, and skipped when
pyspark or a Java runtime is missing, except under CI (``CI=true``), where a missing runtime is
a failure (the tests must run there)."""

from __future__ import annotations

import importlib.util
import os
import shutil

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
