"""Fixtures of the scale-out tests: a Spark standalone cluster on 127.0.0.1 (one master, one
worker of one core and 1 GiB, from the jars the pyspark wheel ships), started once per session
and stopped by pid; skipped without pyspark or Java, except under CI (``CI=true``); and the
whole scoring job (``run_pipeline``) of one small simulated scenario on DuckDB and on that
cluster, run once per session for every test that compares them."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from detector.ingest import ingest_paths
from detector.lake.db import lake_dates
from detector.pipeline import run_pipeline
from detector.settings import Settings, load_settings
from detector.simulate.engine import simulate

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


@dataclass
class ScaleJob:
    """Two homes holding the same ingested scenario, each scored by ``run_pipeline``."""

    duck: Settings
    spark: Settings
    days: list[str]
    apps: list[str]  # the applications the cluster's master ran while the job ran


def cluster_home(spark_cluster, home: Path) -> Settings:
    """Settings of a home (folders made) scored with ``engine = "spark"`` on the standalone
    cluster, its lake read by ``file://`` URI as on shared storage."""
    s = load_settings(home, engine="spark", spark_master=spark_cluster.master_url,
                      spark_conf=spark_cluster.driver_conf(), spark_lake_uri=(home / "lake").as_uri())
    s.ensure_dirs()
    return s


def open_day_window(con, settings: Settings, day: str, params, days: int = 2) -> None:
    """On DuckDB connection ``con``: the day's node table (its active accounts) and the window's
    day caches, as the clusters stage opens them before its edges (the same files the cluster
    reads)."""
    from detector.clusters import daycache

    con.execute("CREATE TEMP TABLE nodes AS SELECT DISTINCT account_id FROM requests "
                f"WHERE CAST(date AS DATE) = DATE '{day}'")
    daycache.open_window(con, settings, day, days, params)


def _ingested(s: Settings, logs: Path) -> Settings:
    s.ensure_dirs()
    ingest_paths(s, [logs], progress=False, workers=1)
    return s


@pytest.fixture(scope="session")
def scale_job(spark_cluster, tmp_path_factory) -> ScaleJob:
    """The scenario (100 accounts, 2 days) scored on DuckDB and with ``engine = "spark"`` on
    the standalone cluster, the lake read by its ``file://`` URI as on shared storage."""
    root = tmp_path_factory.mktemp("scale")
    simulate(root / "logs", accounts=100, days=2, seed=11)
    duck = _ingested(load_settings(root / "duck", engine="duckdb"), root / "logs")
    spark = _ingested(cluster_home(spark_cluster, root / "spark"), root / "logs")
    days = lake_dates(duck)
    run_pipeline(duck, days)
    run_pipeline(spark, days)
    apps = [a["name"] for a in spark_cluster.status()["activeapps"]]
    return ScaleJob(duck, spark, days, apps)
