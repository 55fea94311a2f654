"""Fixtures of the scale-out tests: a Spark standalone cluster on 127.0.0.1 (one master, one
worker of one core and 1 GiB, from the jars the pyspark wheel ships), started once per session
and stopped by pid; skipped without pyspark or Java, except under CI (``CI=true``)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark not installed"
    if shutil.which("java") is None:
        return "no Java runtime"
    return None


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[object]:
    """A running :class:`spark_standalone.StandaloneCluster` (1 worker, 1 core, 1g)."""
    missing = _spark_missing()
    if missing:
        if IN_CI:
            pytest.fail(f"Spark standalone cluster: {missing} (CI installs both)")
        pytest.skip(missing)
    from spark_standalone import StandaloneCluster

    from detector.features.engine import stop_spark

    cluster = StandaloneCluster(workers=1, cores=1, memory="1g").start()
    try:
        yield cluster
    finally:
        stop_spark()  # the driver's executors leave before their worker does
        cluster.stop()
