"""Per-account coverage statistics in torch, over padded batches of accounts (CPU or GPU).

Grain: one value per account (per account-day in the stage). Inputs are the account's sampled
prompt vectors (unit rows, in arrival order). Accounts are grouped into buckets of similar sample
size (powers of two), padded to the bucket size with a mask, and processed as (B, S, d) tensors,
so the cost is a few batched matrix products whatever the number of accounts.

Statistics (all cosine-based; vectors are unit length):
* dispersion: mean pairwise cosine distance, 1 - mean_{i != j} x_i . x_j (from ||sum x||^2, O(n d)).
* nearest-neighbour distance: for each prompt, 1 - max cosine to another prompt of the account;
  mean and standard deviation; share of prompts whose neighbour is at least ``similar_threshold``
  similar (SEAT's similar-pair count, as a share).
* PRADA statistic: Shapiro-Francia W' (the Shapiro-Wilk W with the Blom-score approximation of
  its coefficients) of the distances from each prompt to its nearest *earlier* prompt. PRADA
  flags W below a threshold: benign streams give near-normal distances, synthetic sweeps do not.
* topics: histogram over the codebook; coverage = topics hit / topics expected for a population
  sample of the same size, E = sum_j 1 - (1 - p_j)^n; entropy in bits; Jensen-Shannon divergence
  (base 2, in [0, 1]) from the population topic mix p.
* MMD: unbiased squared MMD with a Gaussian kernel exp(-gamma ||x - y||^2) between the account's
  prompts and the benign reference sample; ``exceeds`` compares it with the permutation threshold
  for the account's sample size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

STAT_NAMES = ("dispersion", "nn_dist_mean", "nn_dist_std", "similar_share", "prada_stat",
              "topics_hit", "topics_expected", "codebook_coverage", "topic_entropy",
              "js_divergence", "mmd", "mmd_threshold")


@dataclass
class Reference:
    """What the statistics compare an account with (tensors on the stats device)."""

    centres: torch.Tensor        # (k, d) unit rows: topic codebook
    topic_mix: torch.Tensor      # (k,) population topic distribution, sums to 1, all > 0
    reference: torch.Tensor      # (m, d) benign reference sample for MMD
    gamma: float                 # Gaussian kernel width: exp(-gamma * squared distance)
    krr_mean: float              # mean kernel value between distinct reference points
    null_sizes: np.ndarray       # sample sizes the MMD threshold was calibrated at
    null_thresholds: np.ndarray  # (1 - alpha) quantile of the null MMD at those sizes


def mmd_threshold(n: np.ndarray, sizes: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Threshold at sample sizes ``n``: linear in log n between calibrated sizes; beyond the
    largest, scaled as 1/n (the null MMD's rate); NaN below 2 or when nothing was calibrated."""
    n = np.asarray(n, dtype=np.float64)
    out = np.full(n.shape, np.nan)
    if len(sizes) == 0:
        return out
    logs = np.log(np.asarray(sizes, dtype=np.float64))
    ok = n >= 2
    inside = ok & (n <= sizes[-1])
    out[inside] = np.interp(np.log(n[inside]), logs, thresholds)
    beyond = ok & (n > sizes[-1])
    out[beyond] = thresholds[-1] * sizes[-1] / n[beyond]
    return out


def expected_topics(n: torch.Tensor, topic_mix: torch.Tensor) -> torch.Tensor:
    """Expected number of distinct topics in n draws from topic_mix: sum_j 1 - (1 - p_j)^n."""
    return (1.0 - torch.pow(1.0 - topic_mix.unsqueeze(0), n.unsqueeze(1))).sum(1)


def shapiro_francia(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Shapiro-Francia W' per row of ``values`` (B, S) over its ``valid`` entries; NaN if < 5 or constant."""
    count = valid.sum(1)
    x = torch.where(valid, values, torch.full_like(values, float("inf"))).sort(dim=1).values
    pos = torch.arange(1, values.shape[1] + 1, device=values.device, dtype=values.dtype).unsqueeze(0)
    inside = pos <= count.unsqueeze(1)
    prob = ((pos - 0.375) / (count.unsqueeze(1) + 0.25)).clamp(1e-6, 1 - 1e-6)
    m = torch.where(inside, torch.special.ndtri(prob), torch.zeros_like(prob))
    x = torch.where(inside, x, torch.zeros_like(x))
    mean = x.sum(1) / count.clamp_min(1)
    centred = torch.where(inside, x - mean.unsqueeze(1), torch.zeros_like(x))
    ss = (centred ** 2).sum(1)
    num = (m * x).sum(1) ** 2
    den = (m ** 2).sum(1) * ss
    w = num / den.clamp_min(1e-30)
    bad = (count < 5) | (ss <= 1e-12 * count.clamp_min(1))
    return torch.where(bad, torch.full_like(w, float("nan")), w)


def _entropy_bits(q: torch.Tensor) -> torch.Tensor:
    return -(torch.where(q > 0, q * torch.log2(q.clamp_min(1e-30)), torch.zeros_like(q))).sum(1)


def _js_divergence(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    mid = 0.5 * (q + p)

    def kl(a: torch.Tensor) -> torch.Tensor:
        ratio = a / mid.clamp_min(1e-30)
        return torch.where(a > 0, a * torch.log2(ratio.clamp_min(1e-30)), torch.zeros_like(a)).sum(1)

    return (0.5 * kl(q) + 0.5 * kl(p.expand_as(q))).clamp(0.0, 1.0)


def vector_terms(x: torch.Tensor, ref: Reference, chunk: int = 16_384) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-vector terms, computed once per distinct prompt: (topic id, mean kernel to the reference).

    x: (N, d). The kernel sum uses exp(-g|x - r|^2) = exp(2g x.r - g|r|^2) * exp(-g|x|^2), so the
    (N, m) block costs one matrix product and one in-place exp.
    """
    r = ref.reference
    bias = (-ref.gamma * (r * r).sum(1)).unsqueeze(0)
    topics, kxr = [], []
    for lo in range(0, x.shape[0], chunk):
        part = x[lo:lo + chunk]
        topics.append((part @ ref.centres.T).argmax(dim=1))
        block = torch.addmm(bias, part, r.T, alpha=2.0 * ref.gamma).exp_()
        kxr.append(block.mean(1) * torch.exp(-ref.gamma * (part * part).sum(1)))
    if not topics:
        return torch.zeros(0, dtype=torch.long, device=x.device), torch.zeros(0, device=x.device)
    return torch.cat(topics), torch.cat(kxr)


def topic_stats(counts: torch.Tensor, topic_mix: torch.Tensor) -> dict[str, torch.Tensor]:
    """Topic statistics from per-account topic counts (A, k)."""
    n = counts.sum(1)
    nan = torch.full_like(n, float("nan"))
    some = n >= 1
    q = counts / n.clamp_min(1).unsqueeze(1)
    hit = (counts > 0).to(counts.dtype).sum(1)
    expected = expected_topics(n, topic_mix)
    return {"topics_hit": hit,
            "topics_expected": torch.where(some, expected, nan),
            "codebook_coverage": torch.where(some, hit / expected.clamp_min(1e-12), nan),
            "topic_entropy": torch.where(some, _entropy_bits(q), nan),
            "js_divergence": torch.where(some, _js_divergence(q, topic_mix.unsqueeze(0)), nan)}


def gram_stats(x: torch.Tensor, mask: torch.Tensor, gamma: float,
               similar_threshold: float) -> dict[str, torch.Tensor]:
    """Statistics that need the account's own pairwise similarities, for B padded accounts.

    x (B, S, d) zero-padded rows, mask (B, S). Returns (B,) tensors: dispersion, nn_dist_mean,
    nn_dist_std, similar_share, prada_stat, kxx_mean (mean kernel between distinct own prompts),
    and ``centroid`` (B, d).
    """
    s = x.shape[1]
    maskf = mask.to(x.dtype)
    n = maskf.sum(1)
    nan = torch.full_like(n, float("nan"))
    two = n >= 2
    sq = (x * x).sum(-1)
    total = x.sum(1)
    pairs = (n * (n - 1)).clamp_min(1)
    out: dict[str, torch.Tensor] = {"centroid": total / total.norm(dim=1, keepdim=True).clamp_min(1e-12)}
    out["dispersion"] = torch.where(two, 1.0 - ((total * total).sum(1) - sq.sum(1)) / pairs, nan)

    gram = x @ x.transpose(1, 2)
    eye = torch.eye(s, dtype=torch.bool, device=x.device).unsqueeze(0)
    pair_ok = mask.unsqueeze(2) & mask.unsqueeze(1) & ~eye
    d_xx = (sq.unsqueeze(2) + sq.unsqueeze(1) - 2.0 * gram).clamp_min_(0)
    k_xx = torch.exp_(d_xx.mul_(-gamma)).masked_fill_(~pair_ok, 0.0)
    out["kxx_mean"] = torch.where(two, k_xx.sum((1, 2)) / pairs, nan)

    gram.masked_fill_(~pair_ok, float("-inf"))
    nn_sim = gram.max(dim=2).values
    nn_dist = (1.0 - nn_sim).masked_fill_(~mask, 0.0)
    nn_mean = nn_dist.sum(1) / n.clamp_min(1)
    nn_var = ((nn_dist - nn_mean.unsqueeze(1)).masked_fill_(~mask, 0.0) ** 2).sum(1)
    out["nn_dist_mean"] = torch.where(two, nn_mean, nan)
    out["nn_dist_std"] = torch.where(two, (nn_var / (n - 1).clamp_min(1)).sqrt(), nan)
    similar = ((nn_sim >= similar_threshold) & mask).to(x.dtype).sum(1)
    out["similar_share"] = torch.where(two, similar / n.clamp_min(1), nan)

    later = torch.ones(s, s, dtype=torch.bool, device=x.device).triu(0).unsqueeze(0)
    prev_sim = gram.masked_fill_(later, float("-inf")).max(dim=2).values
    has_prev = mask & torch.isfinite(prev_sim)
    out["prada_stat"] = shapiro_francia((1.0 - prev_sim).masked_fill_(~has_prev, 0.0), has_prev)
    return out


def batch_stats(x: torch.Tensor, mask: torch.Tensor, ref: Reference,
                similar_threshold: float) -> dict[str, torch.Tensor]:
    """Every statistic for B padded accounts: x (B, S, d) zero-padded unit rows, mask (B, S).

    Returns (B,) tensors keyed like STAT_NAMES (minus mmd_threshold) plus ``centroid`` (B, d).
    Values that need at least two prompts are NaN for accounts with fewer. (The stage computes
    the same quantities with :func:`coverage_stats`, which shares the per-prompt terms.)
    """
    b, s, d = x.shape
    topics, kxr = vector_terms(x.reshape(b * s, d), ref)
    maskf = mask.to(x.dtype)
    counts = torch.zeros(b, ref.centres.shape[0], device=x.device, dtype=x.dtype)
    counts.scatter_add_(1, topics.view(b, s), maskf)
    out = gram_stats(x, mask, ref.gamma, similar_threshold)
    out.update(topic_stats(counts, ref.topic_mix))
    n = maskf.sum(1)
    mean_xr = (kxr.view(b, s) * maskf).sum(1) / n.clamp_min(1)
    out["mmd"] = out.pop("kxx_mean") + ref.krr_mean - 2.0 * mean_xr
    return out


def _bucket_size(n: int) -> int:
    return max(4, 1 << (max(n, 1) - 1).bit_length())


def coverage_stats(vectors: torch.Tensor, rows: np.ndarray, lengths: np.ndarray, ref: Reference,
                   similar_threshold: float = 0.9,
                   budget: int = 1 << 22) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Statistics for every account.

    vectors: (U, d) unit rows on the stats device (one per distinct prompt). rows: for each
    sampled row (accounts contiguous, arrival order inside an account) the index of its vector.
    lengths: rows per account (account a owns rows[starts[a]:starts[a] + lengths[a]]).
    budget: elements of the largest padded (B, S, S) tensor; bounds memory.
    Per-prompt terms (topic, kernel to the reference) are computed once per distinct prompt;
    only the pairwise statistics run on padded per-account blocks, bucketed by size.
    Returns ({stat: (A,) float64}, centroids (A, d) float32, zero for accounts without rows).
    """
    a_count, dim = len(lengths), vectors.shape[1]
    lengths = np.asarray(lengths, dtype=np.int64)
    device = vectors.device
    stats = {name: np.full(a_count, np.nan) for name in STAT_NAMES}
    centroids = np.zeros((a_count, dim), dtype=np.float32)
    if a_count == 0:
        return stats, centroids
    topics_u, kxr_u = vector_terms(vectors, ref)
    rows_t = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.int64)).to(device)
    owner = torch.from_numpy(np.repeat(np.arange(a_count), lengths)).to(device)
    k = ref.centres.shape[0]
    counts = torch.bincount(owner * k + topics_u[rows_t], minlength=a_count * k).view(a_count, k)
    for name, value in topic_stats(counts.to(torch.float32), ref.topic_mix).items():
        stats[name] = value.double().cpu().numpy()
    kxr_sum = torch.bincount(owner, weights=kxr_u[rows_t].double(), minlength=a_count).cpu().numpy()

    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    buckets = np.array([_bucket_size(int(v)) for v in lengths], dtype=np.int64)
    kxx = np.full(a_count, np.nan)
    for size in np.unique(buckets[lengths > 0]):
        accts = np.flatnonzero((buckets == size) & (lengths > 0))
        per_batch = max(1, budget // (int(size) * int(size)))
        for lo in range(0, len(accts), per_batch):
            chunk = accts[lo:lo + per_batch]
            offs = np.arange(size)
            mask_np = offs[None, :] < lengths[chunk][:, None]
            pos = np.where(mask_np, starts[chunk][:, None] + offs[None, :], 0)
            mask = torch.from_numpy(mask_np).to(device)
            x = vectors[rows_t[torch.from_numpy(pos).to(device)]] * mask.unsqueeze(2)
            res = gram_stats(x, mask, ref.gamma, similar_threshold)
            centroids[chunk] = res.pop("centroid").float().cpu().numpy()
            kxx[chunk] = res.pop("kxx_mean").double().cpu().numpy()
            for name, value in res.items():
                stats[name][chunk] = value.double().cpu().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        stats["mmd"] = kxx + ref.krr_mean - 2.0 * kxr_sum / np.maximum(lengths, 1)
    stats["mmd_threshold"] = mmd_threshold(lengths, ref.null_sizes, ref.null_thresholds)
    return stats, centroids
