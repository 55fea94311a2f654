"""Spark settings: master URL, free-form conf (TOML table or JSON environment), lake URI,
checkpoint folder."""

from __future__ import annotations

import pytest

from detector.errors import ConfigError
from detector.settings import load_settings


def test_defaults_are_local(tmp_path):
    s = load_settings(tmp_path)
    assert (s.spark_master, s.spark_conf, s.spark_lake_uri) == ("", (), "")


def test_toml_table_and_master(tmp_path):
    (tmp_path / "detector.toml").write_text(
        'engine = "spark"\nspark_master = "spark://10.0.0.5:7077"\n'
        'spark_lake_uri = "file:///shared/dg/lake"\n'
        '[spark_conf]\n"spark.executor.memory" = "4g"\n"spark.dynamicAllocation.enabled" = true\n')
    s = load_settings(tmp_path)
    assert s.spark_master == "spark://10.0.0.5:7077"
    assert s.spark_lake_uri == "file:///shared/dg/lake"
    assert dict(s.spark_conf) == {"spark.executor.memory": "4g",
                                  "spark.dynamicAllocation.enabled": "true"}


def test_environment_overrides_toml(tmp_path, monkeypatch):
    (tmp_path / "detector.toml").write_text('[spark_conf]\n"spark.executor.memory" = "4g"\n')
    monkeypatch.setenv("DETECTOR_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("DETECTOR_SPARK_CONF", '{"spark.executor.cores": 2}')
    s = load_settings(tmp_path)
    assert s.spark_master == "local[2]"
    assert dict(s.spark_conf) == {"spark.executor.cores": "2"}


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]"])
def test_bad_conf_names_the_setting(tmp_path, monkeypatch, raw):
    monkeypatch.setenv("DETECTOR_SPARK_CONF", raw)
    with pytest.raises(ConfigError, match=r"spark_conf.*DETECTOR_SPARK_CONF"):
        load_settings(tmp_path)


def test_spark_paths_keep_partition_names_literal(tmp_path):
    from detector.features.engine import spark_path

    s = load_settings(tmp_path)
    f = s.requests_dir / "date=2026-06-02" / "part-0.parquet"
    assert spark_path(s, f) == f"file://{f.absolute().as_posix()}"
    shared = load_settings(tmp_path, spark_lake_uri="s3a://bucket/dg/lake/")
    assert spark_path(shared, f) == "s3a://bucket/dg/lake/requests/date=2026-06-02/part-0.parquet"
    outside = tmp_path.parent / "elsewhere.parquet"
    assert spark_path(shared, outside) == f"file://{outside.absolute().as_posix()}"


def test_checkpoint_dir_follows_the_master(tmp_path):
    from detector.clusters.spark_sql import checkpoint_dir

    local = load_settings(tmp_path, engine="spark", spark_master="local[2]")
    assert checkpoint_dir(local) is None  # one JVM: localCheckpoint
    assert checkpoint_dir(load_settings(tmp_path, engine="spark")) is None  # local[threads]
    cluster = load_settings(tmp_path, engine="spark", spark_master="spark://10.0.0.5:7077")
    home_ckpt = (tmp_path / "state" / "spark-checkpoints").absolute().as_posix()
    assert checkpoint_dir(cluster) == "file://" + home_ckpt
    shared = cluster.replace(spark_checkpoint_dir="s3a://bucket/dg/ckpt")
    assert checkpoint_dir(shared) == "s3a://bucket/dg/ckpt"


@pytest.mark.parametrize("raw", ["ckpt", "/mnt/shared/ckpt"])
def test_checkpoint_dir_must_be_a_uri(tmp_path, monkeypatch, raw):
    monkeypatch.setenv("DETECTOR_SPARK_CHECKPOINT_DIR", raw)
    with pytest.raises(ConfigError, match=r"spark_checkpoint_dir.*DETECTOR_SPARK_CHECKPOINT_DIR"
                                          r".*folder URI with a scheme"):
        load_settings(tmp_path)
