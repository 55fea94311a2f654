"""The coverage stage with ``engine = "spark"`` (``local[2]``) writes what DuckDB's writes.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure. The sample must be the same rows; the
statistics and centroids agree within float32 tolerance (the executors encode and reduce in
their own partitions and threads).
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from detector.embeddings import compute
from detector.embeddings.config import EmbeddingConfig
from detector.embeddings.paths import embeddings_root
from detector.embeddings.sampling import sample_prompts
from detector.lake.db import connect
from detector.settings import load_settings
from tests.spark_support import spark_marks

from .conftest import read_outputs, write_requests
from .test_stage import traffic

pytestmark = spark_marks()

DAY = "2026-05-01"
CFG = EmbeddingConfig(backend="static", n_topics=16, reference_size=128, mmd_permutations=100,
                      sample_k=64, max_chars=60)


def _rows() -> list[tuple[str, str]]:
    """The stage tests' traffic plus repeats (same hash, other case), blanks, non-ASCII text
    and prompts longer than ``max_chars``."""
    extra = [("repeat", "Same question"), ("repeat", "same QUESTION"), ("repeat", "   "),
             ("repeat", "café ☕ über naïve façade " * 4), ("repeat", "Same question")]
    extra += [("long", f"{'very long prompt ' * 5} number {i}") for i in range(70)]
    return traffic() + extra


def spark_homes(root, master: str):
    """(DuckDB settings, Spark settings on ``master``) of two homes under ``root``, each with
    the day's requests of :func:`_rows`."""
    duck = load_settings(root / "duck", embedding_backend="static")
    spark = load_settings(root / "spark", embedding_backend="static", engine="spark",
                          spark_master=master)
    for s in (duck, spark):
        write_requests(s.home, DAY, _rows())
    return duck, spark


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    from detector.features.engine import stop_spark

    duck, spark = spark_homes(tmp_path_factory.mktemp("emb_spark"), "local[2]")
    try:
        yield duck, spark
    finally:
        stop_spark()


def test_spark_sample_is_duckdbs(homes) -> None:
    from detector.embeddings.distributed import sample_frame
    from detector.features.engine import spark_session

    duck, spark = homes
    cfg = CFG.with_(seed=7)
    want = sample_prompts(connect(duck), DAY, cfg.sample_k, cfg.seed, cfg.max_chars).to_pandas()
    got = (sample_frame(spark_session(spark), spark, DAY, cfg.sample_k, cfg.seed, cfg.max_chars)
           .toArrow().to_pandas().sort_values(["account_id", "first_ts", "prompt_hash"],
                                              ignore_index=True))
    assert len(want) > 64 and list(got.columns) == list(want.columns)
    assert (want.groupby("account_id").size().max(), want.n_distinct.max()) == (64, 96)
    for col in ("account_id", "prompt_hash", "prompt_text", "n_distinct"):
        assert got[col].tolist() == want[col].tolist(), col
    assert (pd.to_datetime(got.first_ts, utc=True) == pd.to_datetime(want.first_ts, utc=True)).all()


def test_spark_stage_writes_duckdbs_coverage_and_centroids(homes, monkeypatch) -> None:
    from detector.embeddings import sampling

    duck, spark = homes
    compute(duck, [DAY], config=CFG)

    def no_duckdb(*args, **kwargs):
        raise AssertionError("engine = 'spark' sampled on the driver with DuckDB")

    monkeypatch.setattr(sampling, "sample_prompts", no_duckdb)
    monkeypatch.setattr(sampling, "active_accounts", no_duckdb)
    shutil.rmtree(embeddings_root(spark) / "cache", ignore_errors=True)  # cold, in any order
    compute(spark, [DAY], config=CFG)

    (cov1, cen1, man1), (cov2, cen2, man2) = read_outputs(duck, DAY), read_outputs(spark, DAY)
    assert len(cov1) == 34 and list(cov1.columns) == list(cov2.columns)
    _assert_coverage(cov1, cov2)
    assert cov1.cov_n_sampled.sum() == man2["sampled_rows"] > 0
    assert cen2.account_id.tolist() == cen1.account_id.tolist()
    np.testing.assert_allclose(np.stack(cen2.centroid), np.stack(cen1.centroid), rtol=1e-5, atol=1e-6)
    assert cen2.model_version.tolist() == cen1.model_version.tolist()
    for key in ("backend", "model_version", "population_version", "accounts", "sampled_rows",
                "unique_prompts"):
        assert man2[key] == man1[key], key
    # no cache on the executors; each partition encodes its distinct prompts once per run
    assert man2["embedded_now"] == _partition_prompts(spark) > man2["unique_prompts"]


def _partition_prompts(settings) -> int:
    """Distinct prompts per partition of the day's sample, summed: what one encoding per run
    of each partition's prompts encodes (the stage's partitions: ``account_id`` hashed; two
    encodings per run, as before, would count twice this)."""
    from pyspark.sql import functions as F

    from detector.embeddings.distributed import sample_frame
    from detector.features.engine import spark_session

    session = spark_session(settings)
    frame = sample_frame(session, settings, DAY, CFG.sample_k, CFG.seed, CFG.max_chars)
    accounts = frame.select("account_id").distinct().count()
    parts = max(int(session.sparkContext.defaultParallelism), -(-accounts // CFG.accounts_per_batch))
    key = "spark.sql.adaptive.coalescePartitions.enabled"  # the stage's kept frame keeps its
    before = session.conf.get(key)                        # partitions; AQE would merge these
    session.conf.set(key, "false")
    try:
        return (frame.repartition(parts, "account_id")
                .select(F.spark_partition_id().alias("part"), "prompt_hash").distinct().count())
    finally:
        session.conf.set(key, before)


def test_blocked_accounts_and_many_partitions_give_duckdbs_population(homes) -> None:
    """Blocked accounts leave the population sample on the executors, after pass 1, as on
    DuckDB; partitions of 7 accounts change nothing."""
    from detector.embeddings.distributed import run_day_spark
    from detector.embeddings.stage import CoverageStage

    duck, spark = homes
    cfg = CFG.with_(accounts_per_batch=7)
    blocked = {"sweeper", "user03", "user11"}
    con = connect(duck)
    sample = sample_prompts(con, DAY, cfg.sample_k, cfg.seed, cfg.max_chars).to_pandas()
    accounts = [r[0] for r in con.execute("SELECT DISTINCT account_id FROM requests").fetchall()]
    unblocked = CoverageStage(duck, cfg).run_sample(sample, DAY, sorted(accounts), set(), refit=True)
    duck_stage, spark_stage = CoverageStage(duck, cfg), CoverageStage(spark, cfg)
    want = duck_stage.run_sample(sample, DAY, sorted(accounts), blocked, refit=True)
    got = run_day_spark(spark_stage, DAY, blocked, refit=True)
    assert want.population_fitted and got.population_fitted
    assert got.population_version == want.population_version != unblocked.population_version
    a, b = duck_stage.population, spark_stage.population
    for name in ("centres", "topic_mix", "reference", "null_thresholds"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    assert (got.accounts, got.sampled_rows, got.unique_prompts) == \
        (want.accounts, want.sampled_rows, want.unique_prompts)


def test_minilm_does_not_run_on_executors() -> None:
    from types import SimpleNamespace

    from detector.embeddings.distributed import _spec
    from detector.errors import ConfigError

    stage = SimpleNamespace(backend=SimpleNamespace(name="minilm", model_version="x", dim=384))
    with pytest.raises(ConfigError, match="embedding_backend.*minilm"):
        _spec(stage)


def _assert_coverage(cov1, cov2) -> None:
    """Coverage rows ``cov2`` are ``cov1``'s: same accounts, floats within float32 tolerance."""
    assert cov2.account_id.tolist() == cov1.account_id.tolist()
    for col in cov1.columns[1:]:
        a, b = cov1[col].to_numpy(), cov2[col].to_numpy()
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=col)
        else:
            assert b.tolist() == a.tolist(), col


def _assert_duckdbs(duck, other) -> None:
    (cov1, cen1, _), (cov2, cen2, _) = read_outputs(duck, DAY), read_outputs(other, DAY)
    _assert_coverage(cov1, cov2)
    np.testing.assert_allclose(np.stack(cen2.centroid), np.stack(cen1.centroid), rtol=1e-5, atol=1e-6)


def test_executors_read_and_add_to_the_embedding_cache(homes, tmp_path) -> None:
    """Cold: every prompt encoded and added to the cache (no hidden folder left); warm, from the
    executors' vectors or the driver's: nothing encoded, DuckDB's output."""
    duck, spark = homes
    compute(duck, [DAY], config=CFG)
    cold = load_settings(tmp_path / "cold", embedding_backend="static", engine="spark",
                         spark_master="local[2]")
    write_requests(cold.home, DAY, _rows())
    cache = embeddings_root(cold) / "cache"
    compute(cold, [DAY], config=CFG)
    first = read_outputs(cold, DAY)
    stored = sum(pq.ParquetFile(p).metadata.num_rows for p in cache.rglob("part-*.parquet"))
    assert stored == first[2]["embedded_now"] > first[2]["unique_prompts"]
    assert not [p for p in cache.rglob(".spark-*")]
    compute(cold, [DAY], config=CFG)
    warm = read_outputs(cold, DAY)
    assert warm[2]["embedded_now"] == 0
    assert warm[0].equals(first[0]) and warm[1].centroid.map(list).tolist() == \
        first[1].centroid.map(list).tolist()
    _assert_duckdbs(duck, cold)

    driver = load_settings(tmp_path / "driver", embedding_backend="static", engine="spark",
                           spark_master="local[2]")
    write_requests(driver.home, DAY, _rows())
    shutil.copytree(embeddings_root(duck) / "cache", embeddings_root(driver) / "cache")
    compute(driver, [DAY], config=CFG)
    assert read_outputs(driver, DAY)[2]["embedded_now"] == 0
    _assert_duckdbs(duck, driver)


def test_executors_take_the_first_stored_copy(homes, tmp_path) -> None:
    from detector.embeddings.cache import EmbeddingCache
    from detector.embeddings.cache_spark import cached_vectors
    from detector.features.engine import spark_session

    _, spark = homes
    session = spark_session(spark)
    cache = EmbeddingCache(tmp_path / "cache", "static", "v", 4)
    cache.add(["x", "y", "x"], np.eye(3, 4, dtype=np.float32))
    cache.add(["y", "z"], np.full((2, 4), 0.5, np.float32))
    wanted = session.createDataFrame([("x",), ("y",), ("w",)], "prompt_hash string")
    got = {r.prompt_hash: r.cached for r in cached_vectors(session, spark, cache, wanted).collect()}
    found, want = cache.lookup(["x", "y"])
    assert sorted(got) == ["x", "y"] and found.all()
    assert np.array_equal(np.array([got["x"], got["y"]], np.float32), want)
    assert cached_vectors(session, spark, EmbeddingCache(tmp_path / "none", "static", "v", 4),
                          wanted) is None
