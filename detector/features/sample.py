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
import pyarrow.compute as pc

from detector.features import cot, minhash

SAMPLE_K = 32
CHUNK_GROUPS = 1000
SAMPLE_COLUMNS = ["div_near_dup_rate", "div_char_ngram_entropy", "div_word_ngram_entropy",
                  "hv_cot_classifier_share"]


def sample_expr(req: ir.Table, k: int = SAMPLE_K) -> ir.Table:
    """Up to ``k`` distinct prompts per account (by smallest prompt_hash)."""
    r = req.filter(req.prompt_hash.notnull())
    d = r.group_by(["account_id", "prompt_hash"]).aggregate(prompt_text=r.prompt_text.min())
    w = ibis.window(group_by=d.account_id, order_by=d.prompt_hash)
    d = d.mutate(rk=ibis.row_number().over(w))
    return d.filter(d.rk < k).select("account_id", "prompt_hash", "prompt_text")


def _chunk(texts: pa.Array, groups: np.ndarray) -> np.ndarray:
    """(4, groups) near-dup rate, char entropy, word entropy, CoT share for groups 0..max."""
    n_groups = int(groups.max()) + 1
    sizes = np.bincount(groups, minlength=n_groups).astype(float)
    rows, hashes = minhash.shingles(texts)
    flags = minhash.near_dup_flags(groups, minhash.signatures(rows, hashes, len(texts)))
    near = np.bincount(groups, weights=flags, minlength=n_groups) / sizes
    char_ent = minhash.group_entropy(groups[rows], hashes, n_groups)
    w_rows, w_ids = minhash.word_tokens(texts)
    word_ent = minhash.group_entropy(groups[w_rows], w_ids, n_groups)
    cot_flags = cot.scores(texts.to_pylist()) >= cot.THRESHOLD
    cot_share = np.bincount(groups, weights=cot_flags, minlength=n_groups) / sizes
    return np.vstack([near, char_ent, word_ent, cot_share])


def sample_features(sample: pa.Table) -> pa.Table:
    """The SAMPLE_COLUMNS per account from a sample table (account_id, prompt_hash, prompt_text)."""
    if sample.num_rows == 0:
        return pa.table({"account_id": pa.array([], pa.string()),
                         **{c: pa.array([], pa.float64()) for c in SAMPLE_COLUMNS}})
    sample = sample.sort_by([("account_id", "ascending"), ("prompt_hash", "ascending")])
    uniq, groups = _group_ids(sample.column("account_id"))
    texts = sample.column("prompt_text").combine_chunks()
    cols = np.full((4, len(uniq)), np.nan)
    bounds = np.searchsorted(groups, np.arange(0, len(uniq) + CHUNK_GROUPS, CHUNK_GROUPS))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=False):
        if hi > lo:
            g0 = groups[lo]
            cols[:, g0:groups[hi - 1] + 1] = _chunk(texts.slice(lo, hi - lo), groups[lo:hi] - g0)
    near, char_ent, word_ent, cot_share = cols
    return pa.table({
        "account_id": uniq, "div_near_dup_rate": near, "div_char_ngram_entropy": char_ent,
        "div_word_ngram_entropy": word_ent, "hv_cot_classifier_share": cot_share,
    })


def _group_ids(accounts: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """(distinct accounts in order, group id per row) of a column sorted by account."""
    a = accounts.combine_chunks().cast(pa.string())
    if len(a) == 0:
        return a, np.zeros(0, dtype=np.int64)
    change = np.concatenate([[True], pc.not_equal(a.slice(1), a.slice(0, len(a) - 1))
                             .fill_null(True).to_numpy(zero_copy_only=False)])
    return a.filter(pa.array(change)), np.cumsum(change) - 1
