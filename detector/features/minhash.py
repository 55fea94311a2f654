"""Vectorised text sketches over a sample of prompts: byte 4-gram hashes, one-permutation MinHash
with LSH banding (near-duplicate flags), and n-gram entropies per group.

Grain: inputs are one row per sampled prompt with an integer group id (the account-day);
outputs are one value per prompt (near-dup flag) or per group (entropies).
"""

from __future__ import annotations

import re
import zlib

import numpy as np

MAX_BYTES = 512
SHINGLE = 4
BINS = 32
BAND_ROWS = 4
_WORD = re.compile(r"[0-9a-z]+")


def _fmix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 finaliser: a fixed, well-mixed 32-bit hash of uint32 values."""
    x = x.astype(np.uint32, copy=True)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return x


def _normalise(text: str | None) -> bytes:
    return " ".join((text or "").lower().split()).encode("utf-8", "replace")[:MAX_BYTES]


def shingle_matrix(texts: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, valid): (rows, MAX_BYTES-3) uint32 4-gram hashes and a mask of real shingles.

    Texts are lower-cased, whitespace-collapsed, cut to MAX_BYTES bytes of UTF-8. A text shorter
    than 4 bytes yields a single shingle of its padded bytes (so it still has a signature).
    """
    rows = len(texts)
    buf = np.zeros((rows, MAX_BYTES), dtype=np.uint8)
    lens = np.zeros(rows, dtype=np.int64)
    for i, t in enumerate(texts):
        b = _normalise(t)
        buf[i, : len(b)] = np.frombuffer(b, dtype=np.uint8)
        lens[i] = len(b)
    width = MAX_BYTES - SHINGLE + 1
    b32 = buf.astype(np.uint32)
    codes = b32[:, :width] | (b32[:, 1:width + 1] << 8) | (b32[:, 2:width + 2] << 16) | (b32[:, 3:width + 3] << 24)
    valid = np.arange(width)[None, :] < np.maximum(lens - SHINGLE + 1, 1)[:, None]
    return _fmix32(codes), valid


def signatures(hashes: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """One-permutation MinHash with densification: (rows, BINS) int64 signature per text."""
    rows, width = hashes.shape
    bins = (hashes >> np.uint32(32 - 5)).astype(np.int64)  # top 5 bits: 32 bins
    vals = (hashes & np.uint32((1 << 27) - 1)).astype(np.int64)
    sig = np.full((rows, BINS), np.iinfo(np.int64).max, dtype=np.int64)
    r_idx = np.broadcast_to(np.arange(rows)[:, None], (rows, width))
    np.minimum.at(sig, (r_idx[valid], bins[valid]), vals[valid])
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
        key = np.column_stack([groups, band])
        _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        flags |= counts[inv.ravel()] > 1
    return flags


def group_entropy(groups: np.ndarray, tokens: np.ndarray, n_groups: int) -> np.ndarray:
    """Shannon entropy (bits) of the token distribution within each group (nan for no tokens)."""
    out = np.full(n_groups, np.nan)
    if len(tokens) == 0:
        return out
    key = np.column_stack([groups.astype(np.int64), tokens.astype(np.int64)])
    uniq, counts = np.unique(key, axis=0, return_counts=True)
    g = uniq[:, 0]
    tot = np.bincount(g, weights=counts, minlength=n_groups)
    p = counts / tot[g]
    ent = np.bincount(g, weights=-p * np.log2(p), minlength=n_groups)
    has = tot > 0
    out[has] = ent[has] + 0.0
    return out


def word_tokens(texts: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(row index, 32-bit word hash) for every lower-cased alphanumeric word of each text."""
    rows: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    for i, t in enumerate(texts):
        words = _WORD.findall((t or "").lower()[: MAX_BYTES * 2])
        if not words:
            continue
        h = np.array([_word_hash(w) for w in words], dtype=np.uint32)
        hashes.append(h)
        rows.append(np.full(len(h), i, dtype=np.int64))
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint32)
    return np.concatenate(rows), np.concatenate(hashes)


def _word_hash(word: str) -> int:
    """Stable 32-bit CRC of the word's UTF-8 bytes (Python's hash() is salted per process)."""
    return zlib.crc32(word.encode("utf-8"))
