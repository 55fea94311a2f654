"""Sample-based features (source ``sample`` in the catalog): a deterministic sample of up to
SAMPLE_K distinct prompts per account-day (smallest prompt_hash first, which is pseudo-random
and identical on every engine), processed locally with numpy and the CoT classifier.

Grain of the result: one row per account that has at least one prompt that day.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from detector.features import cot, minhash

SAMPLE_K = 32
CHUNK_GROUPS = 500
SAMPLE_COLUMNS = ["div_near_dup_rate", "div_char_ngram_entropy", "div_word_ngram_entropy",
                  "hv_cot_classifier_share"]


def sample_expr(req: ir.Table, k: int = SAMPLE_K) -> ir.Table:
    """Up to ``k`` distinct prompts per account (by smallest prompt_hash)."""
    r = req.filter(req.prompt_hash.notnull())
    d = r.group_by(["account_id", "prompt_hash"]).aggregate(prompt_text=r.prompt_text.min())
    w = ibis.window(group_by=d.account_id, order_by=d.prompt_hash)
    d = d.mutate(rk=ibis.row_number().over(w))
    return d.filter(d.rk < k).select("account_id", "prompt_hash", "prompt_text")


def _chunk(texts: list[str | None], groups: np.ndarray) -> np.ndarray:
    """(4, groups) near-dup rate, char entropy, word entropy, CoT share for groups 0..max."""
    n_groups = int(groups.max()) + 1
    sizes = np.bincount(groups, minlength=n_groups).astype(float)
    hashes, valid = minhash.shingle_matrix(texts)
    flags = minhash.near_dup_flags(groups, minhash.signatures(hashes, valid))
    near = np.bincount(groups, weights=flags, minlength=n_groups) / sizes
    rows = np.broadcast_to(np.arange(len(texts))[:, None], hashes.shape)[valid]
    char_ent = minhash.group_entropy(groups[rows], hashes[valid], n_groups)
    w_rows, w_hash = minhash.word_tokens(texts)
    word_ent = minhash.group_entropy(groups[w_rows], w_hash, n_groups)
    cot_flags = cot.scores(texts) >= cot.THRESHOLD
    cot_share = np.bincount(groups, weights=cot_flags, minlength=n_groups) / sizes
    return np.vstack([near, char_ent, word_ent, cot_share])


def sample_features(sample: pa.Table) -> pa.Table:
    """The SAMPLE_COLUMNS per account from a sample table (account_id, prompt_hash, prompt_text)."""
    if sample.num_rows == 0:
        return pa.table({"account_id": pa.array([], pa.string()),
                         **{c: pa.array([], pa.float64()) for c in SAMPLE_COLUMNS}})
    sample = sample.sort_by([("account_id", "ascending"), ("prompt_hash", "ascending")])
    accounts = sample.column("account_id").to_numpy(zero_copy_only=False)
    texts = sample.column("prompt_text").to_pylist()
    uniq, groups = np.unique(accounts, return_inverse=True)
    cols = np.full((4, len(uniq)), np.nan)
    bounds = np.searchsorted(groups, np.arange(0, len(uniq) + CHUNK_GROUPS, CHUNK_GROUPS))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=False):
        if hi > lo:
            g0 = groups[lo]
            cols[:, g0:groups[hi - 1] + 1] = _chunk(texts[lo:hi], groups[lo:hi] - g0)
    near, char_ent, word_ent, cot_share = cols
    return pa.table({
        "account_id": pa.array(uniq.astype(object), pa.string()),
        "div_near_dup_rate": near, "div_char_ngram_entropy": char_ent,
        "div_word_ngram_entropy": word_ent, "hv_cot_classifier_share": cot_share,
    })
