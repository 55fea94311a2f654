"""k-permutation MinHash and banded LSH over sets (used by the template edges of the clusters)."""

from __future__ import annotations

import numpy as np

from detector.features import minhash


def _sets(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(40):
        base = rng.integers(0, 2**32, 50, dtype=np.uint64)
        out += [np.unique(np.concatenate([base[rng.random(50) < 0.8],
                                          rng.integers(0, 2**32, 5, dtype=np.uint64)]))
                for _ in range(3)]
    return out


def test_signatures_estimate_jaccard():
    pool = np.unique(np.random.default_rng(3).integers(0, 2**32, 420, dtype=np.uint64))[:400]
    a, b = pool[:300], pool[100:]  # shingle hashes; Jaccard 200 / 400 = 0.5
    sig = minhash.permutation_signatures(np.concatenate([a, b]), np.array([300, 300]), 256, 0)
    assert sig.shape == (2, 256) and sig.dtype == np.uint64
    assert abs((sig[0] == sig[1]).mean() - 0.5) < 0.1
    again = minhash.permutation_signatures(np.concatenate([a, b]), np.array([300, 300]), 256, 0)
    assert (again == sig).all()  # seeded: reproducible


def test_lsh_bands_minimise_the_weighted_error():
    assert minhash.lsh_bands(0.5, 64) == (14, 4)
    b, r = minhash.lsh_bands(0.8, 128)
    assert b * r <= 128 and r > 4  # a higher threshold wants longer bands


def test_band_pairs_are_exactly_the_pairs_sharing_a_band():
    sets = _sets()
    lens = np.array([len(s) for s in sets])
    sig = minhash.permutation_signatures(np.concatenate(sets), lens, 64, 1)
    bands, rows = minhash.lsh_bands(0.5, 64)
    brute = {(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets))
             if any((sig[i, k * rows:(k + 1) * rows] == sig[j, k * rows:(k + 1) * rows]).all()
                    for k in range(bands))}
    found = {tuple(p) for p in minhash.band_pairs(sig, 0.5).tolist()}
    assert found == brute
    assert len(found) >= 40  # the near-duplicate families are found
    assert minhash.band_pairs(sig[:1], 0.5).shape == (0, 2)
