"""Topic vectors of a sweep search (:mod:`detector.clusters.sweeps`, steps 2-3): the cached
embeddings of each opening prompt with the shared phrasing removed, blocked k-means, and the
opening pairs of different accounts that fall on the same topic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from detector.clusters.params import ClusterParams
from detector.embeddings.cache import lookup_any_model


def prompt_vectors(hashes: list[str], cache_root: Path,
                   p: ClusterParams) -> tuple[np.ndarray, np.ndarray] | None:
    """(found mask, topic vectors) of the unique opening prompts from the embedding cache of
    the coverage stage, shared phrasing removed; None when the cache holds under
    ``sweep_min_cached`` of them (the search then does not run: words alone do not separate
    topics from phrasing well enough)."""
    got = lookup_any_model(cache_root, hashes) if hashes else None
    if got is None or got[0].mean() < p.sweep_min_cached:
        return None
    found, vecs = got
    out = np.zeros_like(vecs)
    out[found] = remove_top_components(vecs[found], p.sweep_remove_pcs, p.seed)
    return found, out


def remove_top_components(x: np.ndarray, k: int, seed: int, sample: int = 20000) -> np.ndarray:
    """Centre, project out the top ``k`` principal directions (fitted on a sample), L2 rows."""
    x = np.asarray(x, dtype=np.float32)
    mean = x.mean(axis=0)
    xc = x - mean
    if k > 0 and len(x) > k + 1:
        idx = np.random.default_rng(seed).choice(len(x), min(sample, len(x)), replace=False)
        _, _, vt = np.linalg.svd(xc[idx], full_matrices=False)
        top = vt[:k]
        xc = xc - (xc @ top.T) @ top
    norms = np.linalg.norm(xc, axis=1, keepdims=True)
    return xc / np.maximum(norms, 1e-12)


def _lloyd(x: np.ndarray, k: int, g: np.random.Generator, iters: int) -> np.ndarray:
    """Spherical k-means (Lloyd, random init) of unit rows into k cells; cell per row."""
    n = len(x)
    if k <= 1 or n <= k:
        return np.zeros(n, dtype=np.int64) if k <= 1 else np.arange(n)
    centres = x[g.choice(n, k, replace=False)].copy()
    label = np.zeros(n, dtype=np.int64)
    for _ in range(iters):
        for s in range(0, n, 8192):
            label[s:s + 8192] = (x[s:s + 8192] @ centres.T).argmax(axis=1)
        onehot = sp.csr_matrix((np.ones(n, dtype=np.float32), (label, np.arange(n))),
                               shape=(k, n))
        sums = np.asarray(onehot @ x)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres = np.where(norms > 0, sums / np.maximum(norms, 1e-12), centres)
    return label


def kmeans_blocks(x: np.ndarray, per_block: int, seed: int, iters: int = 8) -> np.ndarray:
    """Blocks of about ``per_block`` unit rows (their block ids). Two-level spherical k-means
    when many blocks are wanted: sqrt(k) coarse cells, each split by its own size, so the
    cost is about n * 2 sqrt(n / per_block) dot products instead of n^2 / per_block."""
    n = len(x)
    k = max(1, n // max(per_block, 1))
    g = np.random.default_rng(seed)
    if k <= 256:
        return _lloyd(x, k, g, iters)
    coarse = _lloyd(x, int(np.sqrt(k)), g, iters)
    label = np.zeros(n, dtype=np.int64)
    offset = 0
    for c in np.unique(coarse):
        idx = np.flatnonzero(coarse == c)
        sub = _lloyd(x[idx], max(1, len(idx) // per_block), g, iters)
        label[idx] = sub + offset
        offset += int(sub.max()) + 1
    return label


def topic_matches(x: np.ndarray, owner: np.ndarray, n_acc: int,
                  p: ClusterParams) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(matches, expected): account x account counts of opening-prompt pairs on one topic
    (cosine >= ``sweep_tau``), and the count expected if the two accounts' prompts matched
    at the base rate of the topic *region* they fall in.

    Prompts are compared only inside k-means blocks of about ``sweep_block`` prompts (work
    grows with n * sweep_block, not n^2). Regions are coarser k-means cells (about
    ``sweep_region`` prompts); a region's base rate is the matched share of its prompt pairs
    from different accounts, so the expectation adapts to how densely each part of the
    topic space is swept. Both matrices symmetric with a zero diagonal."""
    block = kmeans_blocks(x, p.sweep_block, p.seed)
    region = kmeans_blocks(x, p.sweep_region, p.seed + 1)
    n_reg = int(region.max()) + 1
    order = np.argsort(block, kind="stable")
    bounds = np.flatnonzero(np.diff(block[order])) + 1
    rows, cols = [], []
    hits = np.zeros(n_reg)
    for idx in np.split(order, bounds):
        if len(idx) < 2:
            continue
        i, j = np.nonzero(np.triu(x[idx] @ x[idx].T >= p.sweep_tau, k=1))
        a, b = owner[idx[i]], owner[idx[j]]
        ok = a != b
        rows.append(a[ok])
        cols.append(b[ok])
        ri, rj = region[idx[i[ok]]], region[idx[j[ok]]]
        hits += np.bincount(ri[ri == rj], minlength=n_reg)
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    m = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(n_acc, n_acc))
    per = sp.csr_matrix((np.ones(len(owner)), (owner, region)), shape=(n_acc, n_reg))
    size = np.asarray(per.sum(axis=0)).ravel()
    own = np.asarray(per.multiply(per).sum(axis=0)).ravel()
    rate = hits / np.maximum((size ** 2 - own) / 2.0, 1.0)
    exp = (per @ sp.diags(rate) @ per.T).tolil()
    exp.setdiag(0)
    return (m + m.T).tocsr(), exp.tocsr()
