"""The coverage stage end to end on a tiny hand-made lake (hashing backend)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from detector.embeddings import COLUMN_NAMES, compute, load_centroids, run_days
from detector.embeddings.config import EmbeddingConfig
from detector.embeddings.stage import CoverageStage
from detector.errors import ConfigError, InputError
from detector.lake.io import write_parquet_atomic

from .conftest import TOPICS, topic_prompt, write_requests

DAY, DAY2 = "2026-05-01", "2026-05-02"
CFG = EmbeddingConfig(backend="hashing", n_topics=16, reference_size=128, mmd_permutations=100,
                      sample_k=64)


def traffic(day_offset: int = 0) -> list[tuple[str, str]]:
    """30 focused accounts (one topic each), one sweeper over all topics, one silent account."""
    rows = []
    for a in range(30):
        topic = list(TOPICS)[a % len(TOPICS)]
        rows += [(f"user{a:02d}", topic_prompt(topic, i + 100 * day_offset)) for i in range(16)]
    rows += [("sweeper", topic_prompt(t, i + 100 * day_offset)) for i in range(12) for t in TOPICS]
    rows += [("silent", "")]
    return rows


def coverage(settings, day: str) -> pd.DataFrame:
    return pd.read_parquet(settings.features_dir / "coverage" / f"date={day}" / "part-0.parquet")


def test_writes_catalogued_columns_for_every_active_account(settings) -> None:
    write_requests(settings.home, DAY, traffic())
    compute(settings, [DAY], config=CFG)
    df = coverage(settings, DAY)
    assert list(df.columns) == ["account_id", "date", *COLUMN_NAMES]
    assert len(df) == 32 and df.account_id.is_unique
    silent = df.set_index("account_id").loc["silent"]
    assert silent.cov_n_sampled == 0 and math.isnan(silent.cov_dispersion)
    sweeper = df.set_index("account_id").loc["sweeper"]
    assert sweeper.cov_n_distinct == 96 and sweeper.cov_n_sampled == 64
    assert str(df.date.iloc[0]) == DAY


def test_sweeper_covers_more_than_every_focused_account(settings) -> None:
    write_requests(settings.home, DAY, traffic())
    compute(settings, [DAY], config=CFG)
    df = coverage(settings, DAY).set_index("account_id").drop("silent")
    sweep, users = df.loc["sweeper"], df.drop("sweeper")
    assert sweep.cov_codebook_coverage > users.cov_codebook_coverage.max()
    assert sweep.cov_topic_entropy > users.cov_topic_entropy.max()
    assert sweep.cov_dispersion > users.cov_dispersion.max()
    assert sweep.cov_js_divergence < users.cov_js_divergence.min()
    assert users.cov_mmd_exceeds.mean() > 0.8 and not sweep.cov_mmd_exceeds   # focused != population mix
    assert ((df.cov_mmd_ratio > 1) == df.cov_mmd_exceeds).all()


def test_centroids_are_unit_and_record_the_model(settings) -> None:
    write_requests(settings.home, DAY, traffic())
    compute(settings, [DAY], config=CFG)
    table = pd.read_parquet(settings.home / "embeddings" / "centroids" / f"date={DAY}" / "part-0.parquet")
    assert set(table.backend) == {"hashing"} and table.model_version.str.startswith("hashing-v1").all()
    ids, vectors = load_centroids(settings, DAY)
    assert len(ids) == 31 and "silent" not in ids
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert load_centroids(settings, "2020-01-01")[0] == []


def test_population_model_is_reused_across_days_and_refitted_on_request(settings) -> None:
    write_requests(settings.home, DAY, traffic())
    write_requests(settings.home, DAY2, traffic(1))
    first, second = run_days(settings, [DAY2, DAY], config=CFG)
    assert first.date == DAY and first.population_fitted and not second.population_fitted
    assert first.population_version == second.population_version
    manifest = json.loads((settings.home / "embeddings" / "manifest" / f"date={DAY2}.json").read_text())
    assert manifest["population_version"] == first.population_version and manifest["backend"] == "hashing"
    refit = run_days(settings, [DAY2], config=CFG, refit=True)[0]
    assert refit.population_fitted and refit.population_version != first.population_version
    assert (settings.home / "embeddings" / "population" / refit.population_version / "meta.json").exists()


def test_blocked_accounts_are_left_out_of_the_population_sample(settings) -> None:
    write_requests(settings.home, DAY2, traffic())
    verdicts = pa.table({"account_id": ["sweeper", "user01"], "date": pa.array([pd.Timestamp(DAY).date()] * 2),
                         "decision": ["block", "allow"]})
    write_parquet_atomic(settings.verdicts_dir / f"date={DAY}" / "verdicts.parquet", verdicts)
    result = run_days(settings, [DAY2], config=CFG)[0]
    meta = json.loads((settings.home / "embeddings" / "population" / result.population_version / "meta.json").read_text())
    assert meta["excluded_blocked_accounts"] == 1
    stage = CoverageStage(settings, CFG)
    sample = pd.DataFrame({"account_id": ["a"] * 10 + ["b"] * 2, "prompt_hash": [f"h{i}" for i in range(12)]})
    rows = stage.population_sample(sample, blocked={"b"})
    assert rows.tolist() == [1, 3, 6, 8]          # 4 rows spread over a's 10, none of b's
    assert stage.population_sample(sample, blocked=set()).tolist() == [1, 3, 6, 8, 10, 11]


def test_tiny_day_without_a_population_model_leaves_topic_and_mmd_null(settings) -> None:
    write_requests(settings.home, DAY, [("a", "one thing"), ("a", "another thing"), ("b", "hello")])
    compute(settings, [DAY], config=CFG)
    df = coverage(settings, DAY).set_index("account_id")
    assert df.loc["a", "cov_dispersion"] >= 0 and math.isnan(df.loc["a", "cov_topic_entropy"])
    assert pd.isna(df.loc["a", "cov_mmd_exceeds"])


def test_off_backend_writes_nothing_and_bad_input_is_reported(settings) -> None:
    write_requests(settings.home, DAY, traffic())
    assert run_days(settings, [DAY], config=CFG.with_(backend="off")) == []
    assert not (settings.features_dir / "coverage").exists()
    with pytest.raises(InputError, match="2026-13-01"):
        compute(settings, ["2026-13-01"], config=CFG)
    with pytest.raises(ConfigError, match="embedding_sample_k.*got 1"):
        EmbeddingConfig(sample_k=1).validated()
    with pytest.raises(ConfigError, match="embedding_backend"):
        EmbeddingConfig.from_settings(settings, backend="gpu-magic")


def test_config_reads_settings(settings) -> None:
    from detector.settings import load_settings

    s = load_settings(settings.home, embedding_backend="hashing", embedding_sample_k=32)
    cfg = EmbeddingConfig.from_settings(s)
    assert cfg.backend == "hashing" and cfg.sample_k == 32 and cfg.n_topics == 64
