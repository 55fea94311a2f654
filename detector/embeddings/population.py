"""The population model: topic codebook, population topic mix and benign MMD reference, versioned.

Fitted on a *population sample*: at most ``reference_per_account`` prompts from each account
(so a heavy account cannot dominate), from accounts not already blocked in earlier verdicts,
deduplicated by prompt hash, at most ``codebook_sample`` prompts. Persisted under
``<home>/embeddings/population/<version>/`` (``arrays.npz`` + ``meta.json``); the file
``ACTIVE-<model slug>`` names the version in use for one embedding model. The same version is
reused day after day so features stay comparable; it is refitted when the model, k or the
calibration settings change, or on request (``detector embeddings refit``).

MMD null (``calibrate_null``): for each sample size n on a grid, the reference pool is split at
random into n points and the other m - n, many times; the (1 - alpha) quantile of the unbiased
MMD^2 between the two parts is the threshold for an account with n prompts. Each split costs
O(n^2) thanks to precomputed kernel row sums.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from detector.embeddings.cache import model_slug
from detector.embeddings.codebook import TopicCodebook
from detector.embeddings.config import EmbeddingConfig
from detector.embeddings.stats import Reference
from detector.lake.io import atomic_path, write_text_atomic


@dataclass
class Population:
    """A fitted population model for one embedding model (numpy arrays; see module doc)."""

    version: str
    backend: str
    model_version: str
    centres: np.ndarray
    topic_mix: np.ndarray
    reference: np.ndarray
    gamma: float
    krr_mean: float
    null_sizes: np.ndarray
    null_thresholds: np.ndarray
    meta: dict = field(default_factory=dict)

    def to_reference(self, device: str) -> Reference:
        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)

        return Reference(centres=t(self.centres), topic_mix=t(self.topic_mix), reference=t(self.reference),
                         gamma=float(self.gamma), krr_mean=float(self.krr_mean),
                         null_sizes=np.asarray(self.null_sizes), null_thresholds=np.asarray(self.null_thresholds))


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(1).unsqueeze(1) + (b * b).sum(1).unsqueeze(0) - 2.0 * a @ b.T).clamp_min(0)


def median_gamma(reference: torch.Tensor) -> float:
    """Median heuristic: gamma = 1 / median squared distance between distinct reference points."""
    d = _sq_dists(reference, reference)
    off = d[~torch.eye(d.shape[0], dtype=torch.bool, device=d.device)]
    med = float(off.median()) if off.numel() else 0.0
    return 1.0 / med if med > 1e-12 else 1.0


def null_grid(max_n: int, m: int) -> list[int]:
    """Sample sizes to calibrate: powers of two from 2, plus max_n, all at most m // 2."""
    top = min(max_n, m // 2)
    sizes = [s for s in (2 ** i for i in range(1, 20)) if s < top]
    return sorted(set(sizes + ([top] if top >= 2 else [])))


def calibrate_null(reference: torch.Tensor, gamma: float, sizes: list[int], permutations: int,
                   alpha: float, seed: int = 0) -> np.ndarray:
    """(1 - alpha) quantile of the split MMD^2 of the reference pool for each size in ``sizes``."""
    m = reference.shape[0]
    kern = torch.exp(-gamma * _sq_dists(reference, reference))
    rows = kern.sum(1)
    total = kern.sum()
    diag = kern.diagonal()
    trace_all = diag.sum()
    gen = torch.Generator(device="cpu").manual_seed(seed)
    # One set of random permutations; the split for size n takes each permutation's first n points.
    perms = torch.rand(permutations, m, generator=gen).argsort(dim=1)[:, : max(sizes, default=0)]
    perms = perms.to(reference.device)
    out = []
    for n in sizes:
        stats = []
        chunk = max(1, (1 << 24) // (n * n))
        for lo in range(0, permutations, chunk):
            idx = perms[lo:lo + chunk, :n]
            s_xx = kern[idx.unsqueeze(2), idx.unsqueeze(1)].sum((1, 2))
            tr_x = diag[idx].sum(1)
            s_xr = rows[idx].sum(1) - s_xx
            s_rr = total - 2.0 * s_xr - s_xx
            r = m - n
            k_xx = (s_xx - tr_x) / (n * (n - 1))
            k_rr = (s_rr - (trace_all - tr_x)) / (r * (r - 1))
            k_xr = s_xr / (n * r)
            stats.append(k_xx + k_rr - 2.0 * k_xr)
        out.append(float(torch.quantile(torch.cat(stats).double().cpu(), 1.0 - alpha)))
    return np.asarray(out, dtype=np.float64)


def fit_rows(n: int, config: EmbeddingConfig) -> tuple[np.ndarray | None, np.random.Generator]:
    """(rows of a population sample of ``n`` prompts that the fit uses, ascending, or None for
    all of them when ``n <= codebook_sample``; the seeded generator after that draw, which
    then draws the reference rows among them). Depends only on ``n`` and ``config``."""
    rng = np.random.default_rng(config.seed)
    if n > config.codebook_sample:
        return np.sort(rng.choice(n, config.codebook_sample, replace=False)), rng
    return None, rng


def fit_population(vectors: np.ndarray, hashes: list[str], config: EmbeddingConfig, backend: str,
                   model_version: str, device: str, meta: dict | None = None,
                   total: int | None = None) -> Population:
    """Fit codebook, topic mix, reference and MMD null on a population sample (unit rows).

    ``total``: the population sample's size when ``vectors`` and ``hashes`` hold only the rows
    :func:`fit_rows` chooses among ``total`` (in order; the Spark engine collects only those);
    the same model and version as fitting on the whole sample."""
    n = vectors.shape[0] if total is None else total
    if n < 8:
        raise ValueError(f"population sample: expected at least 8 prompts, got {n}")
    keep, rng = fit_rows(n, config)
    chosen = n if keep is None else len(keep)
    if total is not None and vectors.shape[0] != chosen:
        raise ValueError(f"population sample: expected the {chosen} rows fit_rows chose among "
                         f"{total}, got {vectors.shape[0]}")
    if keep is not None and total is None:
        vectors, hashes = vectors[keep], [hashes[i] for i in keep]
    n = len(hashes)
    k = min(config.n_topics, max(2, n // 4))
    x = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)).to(device)
    book = TopicCodebook(n_topics=k, random_state=config.seed, device=device).fit(x)
    counts = np.bincount(book.predict(x), minlength=k).astype(np.float64) + 0.5
    topic_mix = counts / counts.sum()
    ref_idx = np.sort(rng.choice(n, min(config.reference_size, n), replace=False))
    ref = x[torch.from_numpy(ref_idx).to(device)]
    gamma = median_gamma(ref)
    kern = torch.exp(-gamma * _sq_dists(ref, ref))
    m = ref.shape[0]
    krr = float((kern.sum() - kern.diagonal().sum()) / (m * (m - 1)))
    sizes = null_grid(config.sample_k, m)
    thresholds = calibrate_null(ref, gamma, sizes, config.mmd_permutations, config.mmd_alpha, config.seed)
    digest = hashlib.sha256("\n".join([backend, model_version, str(k), str(config.seed),
                                       *sorted(hashes)]).encode()).hexdigest()[:12]
    info = dict(meta or {})
    info.update({"n_fit": n, "n_topics": k, "n_topics_requested": config.n_topics, "reference_size": m,
                 "reference_size_requested": config.reference_size, "provisional": m < config.reference_size,
                 "gamma": gamma, "mmd_alpha": config.mmd_alpha, "mmd_permutations": config.mmd_permutations,
                 "sample_k": config.sample_k, "seed": config.seed, "codebook_iterations": book.n_iter_,
                 "created_at": datetime.now(UTC).isoformat(timespec="seconds")})
    return Population(version=f"pop-{digest}", backend=backend, model_version=model_version,
                      centres=book.cluster_centers_, topic_mix=topic_mix,
                      reference=ref.cpu().numpy(), gamma=gamma, krr_mean=krr,
                      null_sizes=np.asarray(sizes, dtype=np.int64), null_thresholds=thresholds, meta=info)


def _active_file(root: Path, backend: str, model_version: str) -> Path:
    return root / f"ACTIVE-{model_slug(backend, model_version)}"


def save_population(pop: Population, root: Path, activate: bool = True) -> Path:
    """Write ``<root>/<version>/arrays.npz`` and ``meta.json`` atomically; point ACTIVE at it."""
    folder = root / pop.version
    buf = io.BytesIO()
    np.savez(buf, centres=pop.centres, topic_mix=pop.topic_mix, reference=pop.reference,
             null_sizes=pop.null_sizes, null_thresholds=pop.null_thresholds)
    with atomic_path(folder / "arrays.npz") as tmp:
        tmp.write_bytes(buf.getvalue())
    meta = {**pop.meta, "version": pop.version, "backend": pop.backend, "model_version": pop.model_version,
            "gamma": pop.gamma, "krr_mean": pop.krr_mean}
    write_text_atomic(folder / "meta.json", json.dumps(meta, indent=2, sort_keys=True))
    if activate:
        write_text_atomic(_active_file(root, pop.backend, pop.model_version), pop.version + "\n")
    return folder


def load_population(root: Path, version: str) -> Population:
    folder = root / version
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    with np.load(folder / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return Population(version=version, backend=meta["backend"], model_version=meta["model_version"],
                      centres=arrays["centres"], topic_mix=arrays["topic_mix"], reference=arrays["reference"],
                      gamma=float(meta["gamma"]), krr_mean=float(meta["krr_mean"]),
                      null_sizes=arrays["null_sizes"], null_thresholds=arrays["null_thresholds"], meta=meta)


def load_active(root: Path, backend: str, model_version: str, config: EmbeddingConfig) -> Population | None:
    """The active population model for this embedding model, if it matches ``config``; else None."""
    pointer = _active_file(root, backend, model_version)
    if not pointer.exists():
        return None
    version = pointer.read_text(encoding="utf-8").strip()
    if not (root / version / "meta.json").exists():
        return None
    pop = load_population(root, version)
    m = pop.meta
    same = (m.get("n_topics_requested") == config.n_topics and m.get("mmd_alpha") == config.mmd_alpha
            and m.get("mmd_permutations") == config.mmd_permutations and m.get("seed") == config.seed
            and m.get("sample_k") == config.sample_k
            and m.get("reference_size_requested") == config.reference_size)
    return pop if same else None
