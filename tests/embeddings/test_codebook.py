"""Topic codebook (spherical mini-batch k-means) and the population model's MMD calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from detector.embeddings.codebook import TopicCodebook
from detector.embeddings.config import EmbeddingConfig
from detector.embeddings.population import (
    calibrate_null,
    fit_population,
    fit_rows,
    load_active,
    median_gamma,
    null_grid,
    save_population,
)
from detector.embeddings.stats import coverage_stats

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                   reason="torch sees no CUDA device"))]


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def blobs(n_per: int, k: int, d: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(k), n_per)
    x = np.eye(d, dtype=np.float32)[labels] + noise * rng.normal(size=(n_per * k, d))
    return unit(x), labels


@pytest.mark.parametrize("device", DEVICES)
def test_codebook_recovers_separated_topics(device: str) -> None:
    x, labels = blobs(200, 5, 16, 0.05, seed=1)
    book = TopicCodebook(n_topics=5, batch_size=256, random_state=0, device=device).fit(x)
    assert book.cluster_centers_.shape == (5, 16)
    np.testing.assert_allclose(np.linalg.norm(book.cluster_centers_, axis=1), 1.0, atol=1e-5)
    pred = book.predict(x)
    for topic in range(5):  # every true topic maps to exactly one centre, and purely
        assert len(set(pred[labels == topic])) == 1
    assert len(set(pred)) == 5
    # each centre sits on its topic's axis
    assert (book.cluster_centers_.max(axis=1) > 0.99).all()


def test_codebook_is_deterministic_for_a_seed() -> None:
    x, _ = blobs(50, 6, 12, 0.3, seed=2)
    a = TopicCodebook(n_topics=6, random_state=3).fit(x).cluster_centers_
    b = TopicCodebook(n_topics=6, random_state=3).fit(x).cluster_centers_
    np.testing.assert_array_equal(a, b)


def test_codebook_errors_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="n_topics: expected at most n_samples=3"):
        TopicCodebook(n_topics=5).fit(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="call fit"):
        TopicCodebook().predict(np.eye(3, dtype=np.float32))


def test_null_grid_and_median_gamma() -> None:
    assert null_grid(256, 1024) == [2, 4, 8, 16, 32, 64, 128, 256]
    assert null_grid(256, 100) == [2, 4, 8, 16, 32, 50]
    # two orthogonal unit vectors: squared distance 2, so gamma = 1/2
    assert median_gamma(torch.eye(2)) == pytest.approx(0.5)


def test_permutation_threshold_controls_false_positives_and_detects_a_shift() -> None:
    """Accounts drawn from the reference distribution exceed at about alpha; shifted ones do."""
    rng = np.random.default_rng(8)
    d = 16
    def population(n: int) -> np.ndarray:
        return unit(rng.normal(size=(n, d)) + 1.5 * np.eye(d)[rng.integers(0, 4, size=n)])
    cfg = EmbeddingConfig(backend="hashing", n_topics=8, reference_size=400, mmd_permutations=400,
                          mmd_alpha=0.05, sample_k=32)
    pop = fit_population(population(1500), [str(i) for i in range(1500)], cfg, "test", "v1", "cpu")
    ref = pop.to_reference("cpu")
    n_acc, size = 200, 16
    benign = population(n_acc * size)
    shifted = unit(rng.normal(size=(n_acc * size, d)) + 3.0 * np.eye(d)[rng.integers(8, 12, size=n_acc * size)])
    lengths = np.full(n_acc, size)
    rows = np.arange(n_acc * size)
    s_b, _ = coverage_stats(torch.from_numpy(benign), rows, lengths, ref)
    s_s, _ = coverage_stats(torch.from_numpy(shifted), rows, lengths, ref)
    fp = float(np.mean(s_b["mmd"] > s_b["mmd_threshold"]))
    tp = float(np.mean(s_s["mmd"] > s_s["mmd_threshold"]))
    assert fp <= 0.12          # alpha = 0.05, 200 accounts: a loose binomial bound
    assert tp >= 0.95


def test_calibrate_null_is_monotone_in_sample_size() -> None:
    rng = np.random.default_rng(9)
    ref = torch.from_numpy(unit(rng.normal(size=(300, 8))))
    thr = calibrate_null(ref, median_gamma(ref), [4, 16, 64], permutations=300, alpha=0.01, seed=0)
    assert thr[0] > thr[1] > thr[2] > 0


def test_population_is_versioned_persisted_and_matched_to_config(tmp_path) -> None:
    x, _ = blobs(40, 4, 8, 0.2, seed=4)
    cfg = EmbeddingConfig(backend="hashing", n_topics=4, reference_size=64, mmd_permutations=50, sample_k=16)
    pop = fit_population(x, [f"h{i}" for i in range(len(x))], cfg, "hashing", "v1", "cpu")
    save_population(pop, tmp_path)
    assert (tmp_path / pop.version / "arrays.npz").exists()
    loaded = load_active(tmp_path, "hashing", "v1", cfg)
    assert loaded is not None and loaded.version == pop.version
    np.testing.assert_array_equal(loaded.centres, pop.centres)
    assert loaded.topic_mix.sum() == pytest.approx(1.0)
    assert load_active(tmp_path, "hashing", "v2", cfg) is None               # another model
    assert load_active(tmp_path, "hashing", "v1", cfg.with_(n_topics=8)) is None  # another k


def test_fit_on_the_chosen_rows_alone_is_the_fit_on_the_whole_sample() -> None:
    """The Spark engine collects only the rows ``fit_rows`` chooses (``total``): the same
    model and version, bit for bit, as fitting on every row; the wrong rows are refused."""
    x, _ = blobs(50, 4, 8, 0.3, seed=5)
    hashes = [f"h{i}" for i in range(len(x))]
    cfg = EmbeddingConfig(backend="hashing", n_topics=4, reference_size=32, mmd_permutations=50,
                          sample_k=16, codebook_sample=64)
    keep, _ = fit_rows(len(x), cfg)
    assert keep is not None and len(keep) == 64 and np.all(np.diff(keep) > 0)
    assert fit_rows(64, cfg)[0] is None
    whole = fit_population(x, hashes, cfg, "hashing", "v1", "cpu")
    chosen = fit_population(x[keep], [hashes[i] for i in keep], cfg, "hashing", "v1", "cpu",
                            total=len(x))
    assert chosen.version == whole.version and chosen.meta["n_fit"] == whole.meta["n_fit"] == 64
    for name in ("centres", "topic_mix", "reference", "null_sizes", "null_thresholds"):
        np.testing.assert_array_equal(getattr(chosen, name), getattr(whole, name), err_msg=name)
    assert (chosen.gamma, chosen.krr_mean) == (whole.gamma, whole.krr_mean)
    with pytest.raises(ValueError, match="64 rows fit_rows chose among 200, got 65"):
        fit_population(x[:65], hashes[:65], cfg, "hashing", "v1", "cpu", total=len(x))
