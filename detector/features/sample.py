"""Sample-based features (source ``sample`` in the catalog): a deterministic sample of up to
SAMPLE_K distinct prompts per account-day (smallest prompt_hash first, which is pseudo-random
and identical on every engine), with each prompt's masked template (``partials.template``,
computed by the engine), processed locally with numpy and the CoT classifier.

Grain of the result: one row per account that has at least one prompt that day.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detector.features import cot, minhash
from detector.features.partials import template

SAMPLE_K = 32
#: The entropies are measured on a fixed budget so that they do not grow with an account's
#: volume: the first ENTROPY_PROMPTS sampled distinct prompts (by prompt_hash, the same sample as
#: above), the first WORDS_PER_PROMPT words and SHINGLES_PER_PROMPT character 4-grams of each.
#: Fewer distinct prompts than that on the day: null (the estimate would be biased low).
ENTROPY_PROMPTS = 16
WORDS_PER_PROMPT = 16
SHINGLES_PER_PROMPT = 64
CHUNK_GROUPS = 1000
CHUNK_TEXTS = 20_000
SAMPLE_COLUMNS = ["div_near_dup_rate", "div_char_ngram_entropy", "div_word_ngram_entropy",
                  "hv_cot_classifier_share", "div_template_reuse", "div_top_template_share"]
#: :func:`sample_features`' result; each account's values depend on its own sample only, so the
#: function runs on any partition of the sample by account (on Spark: on the executors)
SAMPLE_SCHEMA = pa.schema([("account_id", pa.string())]
                         + [(c, pa.float64()) for c in SAMPLE_COLUMNS])


def sample_expr(req: ir.Table, k: int = SAMPLE_K) -> ir.Table:
    """Up to ``k`` distinct prompts per account (by smallest prompt_hash), each with its masked
    template ``tmpl``."""
    r = req.filter(req.prompt_hash.notnull())
    d = r.group_by(["account_id", "prompt_hash"]).aggregate(prompt_text=r.prompt_text.min())
    w = ibis.window(group_by=d.account_id, order_by=d.prompt_hash)
    d = d.mutate(rk=ibis.row_number().over(w))
    d = d.filter(d.rk < k)  # ibis row_number() counts from 0
    return d.select("account_id", "prompt_hash", "prompt_text",
                    tmpl=template(d.prompt_text.fill_null("")))


def _expand(rows_u: np.ndarray, values_u: np.ndarray, inv: np.ndarray, n_u: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, value) entries of each row from those of its distinct text: ``rows_u`` (sorted) and
    ``values_u`` hold the entries of the distinct texts 0..n_u-1, row i has text ``inv[i]``."""
    counts_u = np.bincount(rows_u, minlength=n_u)
    start_u = np.cumsum(counts_u) - counts_u
    cnt = counts_u[inv]
    rows = np.repeat(np.arange(len(inv), dtype=np.int64), cnt)
    first = np.cumsum(cnt) - cnt
    pos = np.arange(int(cnt.sum()), dtype=np.int64) + np.repeat(start_u[inv] - first, cnt)
    return rows, values_u[pos]


def _first_per_row(rows: np.ndarray, cap: int) -> np.ndarray:
    """Mask keeping the first ``cap`` entries of each row (``rows`` sorted, entries in order)."""
    if len(rows) == 0:
        return np.zeros(0, dtype=bool)
    start = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
    run = np.diff(np.concatenate([start, [len(rows)]]))
    pos = np.arange(len(rows)) - np.repeat(start, run)
    return pos < cap


def _budget_entropy(groups: np.ndarray, in_budget: np.ndarray, rows: np.ndarray,
                    tokens: np.ndarray, cap: int, n_groups: int, full: np.ndarray) -> np.ndarray:
    """Entropy per group over the first ``cap`` tokens of each in-budget row; nan for groups
    without a full budget of prompts (``full``)."""
    keep = in_budget[rows] & _first_per_row(rows, cap)
    ent = minhash.group_entropy(groups[rows[keep]], tokens[keep], n_groups)
    ent[~full] = np.nan
    return ent


def _chunk(distinct: pa.Array, text_ids: np.ndarray, groups: np.ndarray, cot_flags: np.ndarray) -> np.ndarray:
    """(4, groups) near-dup rate, char entropy, word entropy, CoT share for groups 0..max.

    Rows are (group, text id into ``distinct``), sorted by group then prompt_hash; shingles and
    words are computed once per distinct text of the chunk and expanded to its rows. The
    entropies use the fixed budget described at ENTROPY_PROMPTS.
    """
    n_groups = int(groups.max()) + 1
    sizes = np.bincount(groups, minlength=n_groups).astype(float)
    local, inv = np.unique(text_ids, return_inverse=True)
    texts = distinct.take(pa.array(local))
    rows_u, hashes_u = minhash.shingles(texts)
    sig = minhash.signatures(rows_u, hashes_u, len(texts))[inv]
    flags = minhash.near_dup_flags(groups, sig)
    near = np.bincount(groups, weights=flags, minlength=n_groups) / sizes
    in_budget = _first_per_row(groups, ENTROPY_PROMPTS)
    full = sizes >= ENTROPY_PROMPTS
    rows, hashes = _expand(rows_u, hashes_u, inv, len(texts))
    char_ent = _budget_entropy(groups, in_budget, rows, hashes, SHINGLES_PER_PROMPT, n_groups, full)
    w_rows, w_ids = _expand(*minhash.word_tokens(texts), inv, len(texts))
    word_ent = _budget_entropy(groups, in_budget, w_rows, w_ids, WORDS_PER_PROMPT, n_groups, full)
    cot_share = np.bincount(groups, weights=cot_flags[text_ids], minlength=n_groups) / sizes
    return np.vstack([near, char_ent, word_ent, cot_share])


def _cot_flags(distinct: pa.Array) -> np.ndarray:
    """CoT classifier decision per distinct text (in blocks of CHUNK_TEXTS, bounding memory)."""
    out = np.zeros(len(distinct), dtype=bool)
    for lo in range(0, len(distinct), CHUNK_TEXTS):
        block = distinct.slice(lo, CHUNK_TEXTS)
        out[lo:lo + len(block)] = cot.scores(block.to_pylist()) >= cot.THRESHOLD
    return out


def sample_features(sample: pa.Table) -> pa.Table:
    """The SAMPLE_COLUMNS per account from a sample table (account_id, prompt_hash, prompt_text,
    tmpl: :func:`sample_expr`'s columns).

    Each distinct prompt text of the day is classified once (the same prompts recur across
    accounts); sketches are computed once per distinct text of each chunk of CHUNK_GROUPS accounts.
    """
    missing = {"account_id", "prompt_hash", "prompt_text", "tmpl"} - set(sample.column_names)
    if missing:
        raise ValueError(f"sample_features: sample table lacks column(s) {sorted(missing)}; "
                         f"got {sample.column_names} (build it with sample_expr)")
    if sample.num_rows == 0:
        return pa.table({"account_id": pa.array([], pa.string()),
                         **{c: pa.array([], pa.float64()) for c in SAMPLE_COLUMNS}})
    sample = sample.sort_by([("account_id", "ascending"), ("prompt_hash", "ascending")])
    uniq, groups = _group_ids(sample.column("account_id"))
    texts = pc.fill_null(sample.column("prompt_text").combine_chunks().cast(pa.string()), "")
    enc = texts.dictionary_encode()
    distinct, text_ids = enc.dictionary, enc.indices.to_numpy().astype(np.int64)
    cot_flags = _cot_flags(distinct)
    cols = np.full((4, len(uniq)), np.nan)
    bounds = np.searchsorted(groups, np.arange(0, len(uniq) + CHUNK_GROUPS, CHUNK_GROUPS))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=False):
        if hi > lo:
            g0 = groups[lo]
            cols[:, g0:groups[hi - 1] + 1] = _chunk(distinct, text_ids[lo:hi], groups[lo:hi] - g0, cot_flags)
    near, char_ent, word_ent, cot_share = cols
    reuse, top = _template_stats(sample.column("tmpl"), groups, len(uniq))
    return pa.table({
        "account_id": uniq, "div_near_dup_rate": near, "div_char_ngram_entropy": char_ent,
        "div_word_ngram_entropy": word_ent, "hv_cot_classifier_share": cot_share,
        "div_template_reuse": reuse, "div_top_template_share": top,
    })


def _template_stats(tmpl: pa.ChunkedArray, groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(collision, top share) of masked templates per group of sampled distinct prompts.

    Collision: the share of pairs of sampled prompts that share a template,
    sum_t c_t (c_t - 1) / (k (k - 1)): an unbiased estimate of the probability that two of the
    account's distinct prompts share a scaffold, whatever the sample size k, so it neither grows
    with an account's volume nor with the sample. Top share: max_t c_t / k. Both null with fewer
    than two sampled prompts (one prompt says nothing about reuse).
    """
    ids = pc.fill_null(tmpl.combine_chunks().cast(pa.string()), "").dictionary_encode()
    t = ids.indices.to_numpy().astype(np.int64)
    m = int(t.max(initial=0)) + 1
    pair, counts = np.unique(groups * m + t, return_counts=True)
    owner = pair // m
    k = np.bincount(groups, minlength=n_groups).astype(float)
    same = np.bincount(owner, weights=counts * (counts - 1.0), minlength=n_groups)
    top = np.zeros(n_groups)
    np.maximum.at(top, owner, counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        reuse = np.where(k >= 2, same / (k * (k - 1)), np.nan)
        top = np.where(k >= 2, top / k, np.nan)
    return reuse, top


def _group_ids(accounts: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """(distinct accounts in order, group id per row) of a column sorted by account."""
    a = accounts.combine_chunks().cast(pa.string())
    if len(a) == 0:
        return a, np.zeros(0, dtype=np.int64)
    change = np.concatenate([[True], pc.not_equal(a.slice(1), a.slice(0, len(a) - 1))
                             .fill_null(True).to_numpy(zero_copy_only=False)])
    return a.filter(pa.array(change)), np.cumsum(change) - 1
