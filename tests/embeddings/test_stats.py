"""Each coverage statistic on constructed point sets with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from detector.embeddings.stats import (
    Reference,
    batch_stats,
    coverage_stats,
    expected_topics,
    mmd_threshold,
    shapiro_francia,
)

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                   reason="torch sees no CUDA device"))]


def basis(d: int, *idx: int) -> np.ndarray:
    return np.eye(d, dtype=np.float32)[list(idx)]


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def ref_on_axes(d: int = 4, device: str = "cpu", gamma: float = 0.5) -> Reference:
    """Codebook = the first 4 axes with a uniform topic mix; reference = those axes."""
    axes = torch.eye(d)[:4].to(device)
    return Reference(centres=axes, topic_mix=torch.full((4,), 0.25, device=device), reference=axes,
                     gamma=gamma, krr_mean=math.exp(-2 * gamma),
                     null_sizes=np.array([2, 4]), null_thresholds=np.array([0.5, 0.25]))


def one(points: np.ndarray, ref: Reference, device: str = "cpu", thr: float = 0.9) -> dict[str, float]:
    x = torch.from_numpy(points).unsqueeze(0).to(device)
    mask = torch.ones(1, len(points), dtype=torch.bool, device=device)
    return {k: v[0].cpu().numpy() if k == "centroid" else float(v[0]) for k, v in
            batch_stats(x, mask, ref, thr).items()}


@pytest.mark.parametrize("device", DEVICES)
def test_uniform_sweep_of_orthogonal_prompts(device: str) -> None:
    res = one(basis(8, 0, 1, 2, 3), ref_on_axes(8, device), device)
    assert res["dispersion"] == pytest.approx(1.0)          # every pair orthogonal
    assert res["nn_dist_mean"] == pytest.approx(1.0)
    assert res["nn_dist_std"] == pytest.approx(0.0, abs=1e-6)
    assert res["similar_share"] == 0.0
    assert res["topics_hit"] == 4
    expected = 4 * (1 - 0.75 ** 4)                          # 2.734 topics for 4 random draws
    assert res["codebook_coverage"] == pytest.approx(4 / expected, rel=1e-5)
    assert res["topic_entropy"] == pytest.approx(2.0, abs=1e-5)
    assert res["js_divergence"] == pytest.approx(0.0, abs=1e-5)
    # The account is exactly the reference: MMD_u = k(a,b) + k_rr - 2 mean k_xr = e^-1 - 1 ... per pair.
    k = math.exp(-1.0)
    mean_xr = (4 * 1.0 + 12 * k) / 16
    assert res["mmd"] == pytest.approx(k + k - 2 * mean_xr, abs=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_tight_cluster_on_one_topic(device: str) -> None:
    pts = unit(np.array([[1, 0.05, 0, 0], [1, -0.05, 0, 0], [1, 0, 0.05, 0], [1, 0, -0.05, 0]], np.float32))
    res = one(pts, ref_on_axes(4, device), device)
    assert res["dispersion"] < 0.01
    assert res["nn_dist_mean"] < 0.01
    assert res["similar_share"] == 1.0
    assert res["topics_hit"] == 1
    assert res["codebook_coverage"] == pytest.approx(1 / (4 * (1 - 0.75 ** 4)), rel=1e-5)
    assert res["topic_entropy"] == pytest.approx(0.0, abs=1e-6)
    # JS((1,0,0,0) || uniform): 0.5*log2(1/0.625) + 0.5*(0.25*log2(0.25/0.625) + 0.75*log2(2))
    js = 0.5 * math.log2(1 / 0.625) + 0.5 * (0.25 * math.log2(0.25 / 0.625) + 0.75)
    assert res["js_divergence"] == pytest.approx(js, abs=1e-5)
    assert np.linalg.norm(res["centroid"]) == pytest.approx(1.0, abs=1e-5)
    assert res["centroid"][0] > 0.99


def test_hand_computed_dispersion_and_neighbours() -> None:
    pts = unit(np.array([[1, 0], [0, 1], [1, 1]], np.float32))
    res = one(pts, Reference(
        centres=torch.eye(2), topic_mix=torch.tensor([0.5, 0.5]), reference=torch.eye(2), gamma=0.5,
        krr_mean=math.exp(-1), null_sizes=np.array([2]), null_thresholds=np.array([0.1])))
    s = 1 / math.sqrt(2)
    assert res["dispersion"] == pytest.approx(1 - (0 + s + s) / 3, abs=1e-6)
    assert res["nn_dist_mean"] == pytest.approx(1 - s, abs=1e-6)  # every point's neighbour is at 45 deg


def test_similar_pair_share() -> None:
    near = unit(np.array([[1, 0.1, 0, 0], [1, -0.1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], np.float32))
    res = one(near, ref_on_axes(4), thr=0.95)
    assert res["similar_share"] == pytest.approx(0.5)  # the first two are 0.98 similar, the others alone


def test_one_prompt_gives_nan_for_pairwise_statistics() -> None:
    res = one(basis(4, 2), ref_on_axes(4))
    for name in ("dispersion", "nn_dist_mean", "similar_share", "mmd", "prada_stat"):
        assert math.isnan(res[name]), name
    assert res["topics_hit"] == 1 and res["topic_entropy"] == 0.0


def test_expected_topics_formula() -> None:
    p = torch.tensor([0.5, 0.25, 0.25])
    got = expected_topics(torch.tensor([1.0, 2.0]), p)
    assert got[0] == pytest.approx(1.0)
    assert got[1] == pytest.approx(3 - 0.25 - 0.5625 - 0.5625)


def test_shapiro_francia_matches_shapiro_wilk_and_flags_skew() -> None:
    rng = np.random.default_rng(3)
    normal = rng.normal(size=(4, 60))
    skewed = rng.exponential(size=(4, 60)) ** 2
    values = torch.from_numpy(np.vstack([normal, skewed]))
    w = shapiro_francia(values, torch.ones_like(values, dtype=torch.bool)).numpy()
    sw = np.array([scipy_stats.shapiro(row).statistic for row in values.numpy()])
    assert np.abs(w - sw).max() < 0.02
    assert w[:4].min() > 0.9 > w[4:].max()


def test_shapiro_francia_respects_mask_and_small_samples() -> None:
    rng = np.random.default_rng(4)
    full = rng.normal(size=30)
    padded = np.concatenate([full, np.full(10, 99.0)])
    mask = np.arange(40) < 30
    w_pad = shapiro_francia(torch.from_numpy(padded[None]), torch.from_numpy(mask[None]))
    w_full = shapiro_francia(torch.from_numpy(full[None]), torch.ones(1, 30, dtype=torch.bool))
    assert float(w_pad[0]) == pytest.approx(float(w_full[0]), abs=1e-9)
    few = shapiro_francia(torch.ones(1, 4, dtype=torch.float64) * torch.arange(4), torch.ones(1, 4, dtype=torch.bool))
    assert math.isnan(float(few[0]))
    const = shapiro_francia(torch.ones(1, 9, dtype=torch.float64), torch.ones(1, 9, dtype=torch.bool))
    assert math.isnan(float(const[0]))


def test_prada_statistic_low_for_a_regular_grid_sweep() -> None:
    """Prompts drawn naturally give near-normal nearest-earlier distances; a sweep that revisits
    a few points gives a bimodal, far-from-normal set."""
    rng = np.random.default_rng(5)
    natural = unit(rng.normal(size=(80, 16)).astype(np.float32))
    anchors = unit(rng.normal(size=(8, 16)).astype(np.float32))
    sweep = unit(np.vstack([anchors[i % 8] + (0.02 * rng.normal(size=16) if i >= 8 else 0)
                            for i in range(80)]).astype(np.float32))
    ref = ref_on_axes(16)
    assert one(natural, ref)["prada_stat"] > 0.9
    assert one(sweep, ref)["prada_stat"] < 0.5


def test_mmd_threshold_interpolates_and_extrapolates() -> None:
    sizes, thr = np.array([2, 4, 8]), np.array([0.4, 0.2, 0.1])
    got = mmd_threshold(np.array([1, 2, 4, 16, 3]), sizes, thr)
    assert math.isnan(got[0])
    assert got[1] == pytest.approx(0.4) and got[2] == pytest.approx(0.2)
    assert got[3] == pytest.approx(0.1 * 8 / 16)
    assert got[4] == pytest.approx(0.4 + (0.2 - 0.4) * math.log(3 / 2) / math.log(2))


@pytest.mark.parametrize("device", DEVICES)
def test_batched_buckets_equal_one_account_at_a_time(device: str) -> None:
    rng = np.random.default_rng(7)
    d = 12
    vectors = unit(rng.normal(size=(300, d)).astype(np.float32))
    lengths = np.array([1, 2, 3, 5, 9, 17, 40, 0, 33, 64, 4])
    rows = rng.integers(0, 300, size=int(lengths.sum()))
    ref = Reference(centres=torch.from_numpy(vectors[:6]).to(device), topic_mix=torch.full((6,), 1 / 6, device=device),
                    reference=torch.from_numpy(vectors[100:140]).to(device), gamma=0.7, krr_mean=0.3,
                    null_sizes=np.array([2, 8, 32]), null_thresholds=np.array([0.3, 0.1, 0.03]))
    v = torch.from_numpy(vectors).to(device)
    stats, centroids = coverage_stats(v, rows, lengths, ref, budget=2000)  # tiny budget: many chunks
    start = 0
    for a, n in enumerate(lengths):
        if n == 0:
            assert math.isnan(stats["dispersion"][a]) and not centroids[a].any()
            continue
        alone = one(vectors[rows[start:start + n]], ref, device)
        for name in ("dispersion", "nn_dist_mean", "prada_stat", "topics_hit", "topic_entropy",
                     "js_divergence", "mmd", "codebook_coverage"):
            if math.isnan(alone[name]):
                assert math.isnan(stats[name][a]), (a, name)
            else:
                assert stats[name][a] == pytest.approx(alone[name], abs=1e-4), (a, name)
        np.testing.assert_allclose(centroids[a], alone["centroid"], atol=1e-5)
        start += n


def test_uniform_sweep_versus_tight_cluster_in_high_dimension() -> None:
    rng = np.random.default_rng(11)
    d = 32
    sweep = unit(rng.normal(size=(64, d)).astype(np.float32))
    centre = unit(rng.normal(size=(1, d)).astype(np.float32))
    cluster = unit((centre + 0.04 * rng.normal(size=(64, d))).astype(np.float32))
    pool = unit(rng.normal(size=(400, d)).astype(np.float32))
    ref = Reference(centres=torch.from_numpy(pool[:16]), topic_mix=torch.full((16,), 1 / 16),
                    reference=torch.from_numpy(pool[16:]), gamma=0.5, krr_mean=0.0,
                    null_sizes=np.array([2]), null_thresholds=np.array([1.0]))
    ref.krr_mean = float(torch.exp(-0.5 * torch.cdist(ref.reference, ref.reference) ** 2).fill_diagonal_(0).sum() / (384 * 383))
    s, c = one(sweep, ref), one(cluster, ref)
    assert s["dispersion"] > 0.9 > 0.1 > c["dispersion"]
    assert s["nn_dist_mean"] > c["nn_dist_mean"] + 0.3
    assert s["codebook_coverage"] > 0.8 > 0.3 > c["codebook_coverage"]
    assert s["topic_entropy"] > 3.0 > 1.0 > c["topic_entropy"]
    assert s["js_divergence"] < c["js_divergence"]
    assert abs(s["mmd"]) < 0.02 < c["mmd"]
