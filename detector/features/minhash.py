"""The project's MinHash, vectorised in numpy (no per-item Python): text sketches over a sample
of prompts (byte 4-gram hashes, one-permutation MinHash with LSH banding for near-duplicate
flags, n-gram entropies per group), and k-permutation MinHash with banded LSH over sets (the
account scaffolds of ``detector/clusters/templates.py``).

Grain: inputs are one row per sampled prompt with an integer group id (the account-day);
outputs are one value per prompt (near-dup flag) or per group (entropies).
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.integrate import quad

MAX_BYTES = 512
SHINGLE = 4
BINS = 32
BAND_ROWS = 4
#: Python's str.split() whitespace set (RE2 syntax), so normalisation matches " ".join(t.split())
_SPACE = r"[\t\n\x{0b}\x{0c}\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]+"


def _fmix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 finaliser: a fixed, well-mixed 32-bit hash of uint32 values."""
    x = x.astype(np.uint32, copy=True)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return x


def normalised_bytes(texts: list[str | None] | pa.Array) -> pa.Array:
    """Texts lower-cased, whitespace runs collapsed to one space and trimmed, as UTF-8 binary cut
    to MAX_BYTES bytes (null -> empty). Vectorised in Arrow; whitespace is Python's str.split set."""
    arr = pa.array(texts, pa.string()) if not isinstance(texts, pa.Array) else texts.cast(pa.string())
    t = pc.utf8_lower(pc.fill_null(arr, ""))
    t = pc.utf8_trim(pc.replace_substring_regex(t, _SPACE, " "), " ")
    return pc.binary_slice(t.cast(pa.binary()), 0, MAX_BYTES)


def shingles(texts: list[str | None] | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(row, hash): one entry per byte 4-gram of each normalised text (see normalised_bytes).

    ``hash`` is a bijective 32-bit mix of the 4 bytes (so equal hashes mean equal 4-grams). A
    text shorter than 4 bytes yields a single shingle of its bytes zero-padded (so it still has
    a signature). Rows are in order; grain: one entry per shingle.
    """
    b = normalised_bytes(texts)
    n = len(b)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint32)
    offsets = np.frombuffer(b.buffers()[1], dtype=np.int32, count=n + 1, offset=b.offset * 4).astype(np.int64)
    lens = np.diff(offsets)
    data = np.frombuffer(b.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]] if lens.sum() else np.zeros(0, np.uint8)
    # copy into a buffer with SHINGLE zero bytes after each text: no 4-gram crosses two texts
    start = offsets[:-1] - offsets[0] + np.arange(n) * SHINGLE
    buf = np.zeros(int(lens.sum()) + SHINGLE * n, dtype=np.uint32)
    buf[np.repeat(start - (offsets[:-1] - offsets[0]), lens) + np.arange(len(data))] = data
    counts = np.maximum(lens - SHINGLE + 1, 1)
    rows = np.repeat(np.arange(n, dtype=np.int64), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(start - first, counts)
    codes = buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)
    return rows, _fmix32(codes)


def signatures(rows: np.ndarray, hashes: np.ndarray, n_rows: int) -> np.ndarray:
    """One-permutation MinHash with densification: (n_rows, BINS) int64 signature per text,
    from the (row, hash) shingles of :func:`shingles` (values < 2**32)."""
    bins = (hashes >> np.uint32(32 - 5)).astype(np.int64)  # top 5 bits: 32 bins
    vals = (hashes & np.uint32((1 << 27) - 1)).astype(np.int64)
    sig = np.full((n_rows, BINS), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(sig, (rows, bins), vals)
    empty = sig == np.iinfo(np.int64).max
    # rotation densification (Shrivastava 2017): an empty bin borrows the nearest non-empty bin
    # to its right, offset by the distance, so short texts still get comparable signatures
    for t in range(1, BINS):
        if not empty.any():
            break
        donor = np.roll(sig, -t, axis=1)
        donor_ok = ~np.roll(empty, -t, axis=1)
        take = empty & donor_ok
        sig[take] = donor[take] + t * (1 << 27)
        empty &= ~take
    return sig


def near_dup_flags(groups: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """True for a prompt sharing any LSH band (BAND_ROWS bins) with another prompt of its group."""
    flags = np.zeros(len(groups), dtype=bool)
    if len(groups) < 2:
        return flags
    for b in range(BINS // BAND_ROWS):
        band = sig[:, b * BAND_ROWS:(b + 1) * BAND_ROWS]
        order = np.lexsort([band[:, k] for k in range(BAND_ROWS - 1, -1, -1)] + [groups])
        key = np.column_stack([groups, band])[order]
        same = (key[1:] == key[:-1]).all(axis=1)
        dup = np.zeros(len(groups), dtype=bool)
        dup[:-1] |= same
        dup[1:] |= same
        flags[order] |= dup
    return flags


def group_entropy(groups: np.ndarray, tokens: np.ndarray, n_groups: int) -> np.ndarray:
    """Shannon entropy (bits) of the token distribution within each group (nan for no tokens).

    ``tokens`` are non-negative ids below 2**32 (4-gram hashes, word ids); grain: one per group.
    """
    out = np.full(n_groups, np.nan)
    if len(tokens) == 0:
        return out
    key = (groups.astype(np.int64) << 32) | tokens.astype(np.int64)
    key.sort()
    edge = np.flatnonzero(key[1:] != key[:-1]) + 1
    counts = np.diff(np.concatenate([[0], edge, [len(key)]])).astype(np.float64)
    g = key[np.concatenate([[0], edge])] >> 32
    tot = np.bincount(g, weights=counts, minlength=n_groups)
    p = counts / tot[g]
    ent = np.bincount(g, weights=-p * np.log2(p), minlength=n_groups)
    has = tot > 0
    out[has] = ent[has] + 0.0
    return out


def word_tokens(texts: list[str | None] | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(row index, word id) for every lower-cased ASCII-alphanumeric word of each text (first
    2 * MAX_BYTES characters). Word ids are exact within one call (dictionary codes), which is
    all the entropies need."""
    arr = pa.array(texts, pa.string()) if not isinstance(texts, pa.Array) else texts.cast(pa.string())
    low = pc.utf8_slice_codeunits(pc.utf8_lower(pc.fill_null(arr, "")), 0, MAX_BYTES * 2)
    parts = pc.split_pattern_regex(low, "[^0-9a-z]+")
    rows = pc.list_parent_indices(parts).to_numpy()
    words = pc.list_flatten(parts)
    keep = pc.greater(pc.binary_length(words), 0)
    rows, words = rows[keep.to_numpy(zero_copy_only=False)], words.filter(keep)
    if len(words) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint32)
    ids = words.dictionary_encode().indices.to_numpy().astype(np.uint32)
    return rows.astype(np.int64), ids


# --- k-permutation MinHash and banded LSH over sets (account scaffolds, clusters/templates.py) ---
_PRIME = (1 << 31) - 1


def permutation_signatures(values: np.ndarray, lens: np.ndarray, num_perm: int,
                           seed: int) -> np.ndarray:
    """k-permutation MinHash: (n_sets, num_perm) uint64 signature per set, by universal hashing.

    ``values`` are the sets' integer elements concatenated, ``lens`` each set's size (>= 1).
    h_k(x) = (a_k x + b_k) mod (2^31 - 1); the signature keeps min_x h_k(x) for each k, so the
    share of equal positions of two signatures estimates their sets' Jaccard similarity.
    """
    values = values.astype(np.int64) % _PRIME
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    g = np.random.default_rng(seed)
    a = g.integers(1, _PRIME, num_perm, dtype=np.int64)
    b = g.integers(0, _PRIME, num_perm, dtype=np.int64)
    out = np.empty((len(lens), num_perm), dtype=np.uint64)
    for k in range(num_perm):
        out[:, k] = np.minimum.reduceat((a[k] * values + b[k]) % _PRIME, starts)
    return out


@functools.lru_cache(maxsize=32)
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) minimising the mean of the false-positive and false-negative
    probability mass around ``threshold`` (the choice of datasketch's ``MinHashLSH``)."""
    best, opt = float("inf"), (1, 1)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = quad(lambda s, b=b, r=r: 1 - (1 - s ** r) ** b, 0.0, threshold)[0]
            fn = quad(lambda s, b=b, r=r: (1 - s ** r) ** b, threshold, 1.0)[0]
            if 0.5 * fp + 0.5 * fn < best:
                best, opt = 0.5 * fp + 0.5 * fn, (b, r)
    return opt


def band_pairs(sig: np.ndarray, threshold: float) -> np.ndarray:
    """(i, j) row pairs, i < j, of signatures equal on at least one LSH band (``lsh_bands``):
    the candidate pairs whose Jaccard may reach ``threshold``. Grain: one row per pair."""
    n, num_perm = sig.shape
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    bands, rows = lsh_bands(float(threshold), int(num_perm))
    found = []
    for band in range(bands):
        key = np.ascontiguousarray(sig[:, band * rows:(band + 1) * rows]).view(
            np.dtype((np.void, sig.dtype.itemsize * rows))).ravel()
        order = np.argsort(key, kind="stable")
        edge = np.flatnonzero(key[order][1:] != key[order][:-1]) + 1
        starts, ends = np.concatenate([[0], edge]), np.concatenate([edge, [n]])
        for s, e in zip(starts[ends - starts > 1], ends[ends - starts > 1], strict=True):
            i, j = np.triu_indices(e - s, k=1)
            found.append(np.column_stack([order[s + i], order[s + j]]))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(found), axis=1)
    return np.unique(pairs, axis=0)
