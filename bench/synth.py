"""Vectorised generator of canonical request rows for the feature parity test and benchmark.

Not the project's traffic simulator (``detector simulate``): just varied, seeded columns in
REQUEST_SCHEMA so every feature path (windows, regexes, joins, nulls) is exercised at any size.
Grain: one row per request.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detector.lake.schema import REQUEST_SCHEMA

_WORDS = np.array(["alpha", "beta", "gamma", "delta", "explain", "translate", "summarise", "write", "code", "poem", "story", "list", "compare", "why", "how", "what", "Alice", "Bob", "Paris", "2024", "data", "model"])
_SUFFIX = np.array(["", "", "", " Think step by step.", " Show your reasoning.", " thanks"])
_UA = np.array(["python-requests/2.31", "Mozilla/5.0 (X11)", "openai-python/1.30", "curl/8.1", None],
               dtype=object)
_EFFORT = np.array(["low", "medium", "high", None], dtype=object)
_FINISH = np.array(["stop", "length", "stop", None], dtype=object)
#: Words appended to a long prompt (``long_share``): with them it has more words and character
#: 4-grams than the feature sample's entropy budgets take from one prompt
#: (``detector.features.sample``: WORDS_PER_PROMPT 16, SHINGLES_PER_PROMPT 64).
LONG_WORDS = 24


def _text(values: np.ndarray) -> pa.Array:
    """Decimal strings of integers."""
    return pc.cast(pa.array(values), pa.string())


def _pick(vocab: np.ndarray, idx: np.ndarray) -> pa.Array:
    """``vocab[idx]`` as an Arrow string array (nulls where the vocabulary holds None)."""
    return pc.take(pa.array(vocab.tolist(), pa.string()), pa.array(idx))


def _cat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and constant strings."""
    return pc.binary_join_element_wise(*parts, "")


def requests_table(day: str, n_rows: int, n_accounts: int, seed: int = 0,
                   models: tuple[str, ...] = ("m-a", "m-b", "m-c"), long_share: float = 0.0) -> pa.Table:
    """``n_rows`` requests of ``day`` spread over ``n_accounts`` accounts (Zipf-like volumes).

    About ``long_share`` of the prompts are long (:data:`LONG_WORDS` more words, fixed by the
    prompt's template and number, under a prompt_hash of their own); they are drawn from a
    generator of their own, so every other column is the same whatever ``long_share``.
    Strings are built with Arrow kernels (no per-row Python, no fixed-width numpy strings), so
    10M rows take seconds and little memory.
    """
    rng = np.random.default_rng(seed)
    acct = np.minimum(rng.zipf(1.3, n_rows) - 1, n_accounts - 1)
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    us = np.sort(rng.integers(0, 86_400_000_000, n_rows))
    ts = pa.array(np.datetime64(start.replace(tzinfo=None), "us") + us.astype("timedelta64[us]"),
                  pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
    tmpl = rng.integers(0, 40, n_rows)
    num = rng.integers(0, 50, n_rows)
    num_s = _text(num)
    prompts = _cat(_pick(_WORDS, tmpl % len(_WORDS)), " the ", _pick(_WORDS, (tmpl * 7) % len(_WORDS)),
                   " number ", num_s, _pick(_SUFFIX, rng.integers(0, len(_SUFFIX), n_rows)))
    prompt_hash = _cat("h", _text(tmpl), "-", num_s)
    if long_share > 0:
        prompts, prompt_hash = _lengthen(prompts, prompt_hash, tmpl, num, long_share, seed)
    ip_last = rng.integers(1, 6, n_rows)
    prefix = _text(acct % 50)
    accounts = _cat("acct_", _text(acct))
    has_max = rng.random(n_rows) < 0.7
    cols = {
        "request_id": _cat(f"{day}-{seed}-", _text(np.arange(n_rows))),
        "ts": ts,
        "account_id": accounts,
        "api_key_id": _cat(accounts, "-k", _text(num % 3)),
        "model": _pick(np.array(models), rng.integers(0, len(models), n_rows)),
        "client_ip": _cat("10.0.", prefix, ".", _text(ip_last)),
        "ip_prefix": _cat("10.0.", prefix, ".0/24"),
        "user_agent": _pick(_UA, acct % len(_UA)),
        "payment_fingerprint": _cat("pm_", _text(acct // 3)),
        "end_user_hash": pc.if_else(pa.array(acct % 5 == 0), _cat("eu", _text(num % 7)),
                                    pa.scalar(None, pa.string())),
        "account_created_at": pa.array(np.full(n_rows, np.datetime64(start.replace(tzinfo=None), "us"))
                                       - (acct.astype("int64") * 3_600_000_000).astype("timedelta64[us]"),
                                       pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
        "n_messages": pa.array(rng.integers(1, 4, n_rows).astype("int32")),
        "n_user_turns": pa.array(rng.integers(1, 3, n_rows).astype("int32")),
        "system_hash": pc.if_else(pa.array(rng.random(n_rows) < 0.5), pa.scalar(None, pa.string()),
                                  _cat("s", _text(acct % 4))),
        "prompt_text": prompts,
        "prompt_hash": prompt_hash,
        "prompt_chars": pc.cast(pc.utf8_length(prompts), pa.int64()),
        "max_tokens": pa.array(np.where(has_max, rng.choice([256, 1024, 4096, 8192], n_rows), 0), mask=~has_max),
        "temperature": pa.array(rng.choice([0.0, 0.2, 0.7, 1.0], n_rows)),
        "n": pa.array(rng.choice([1, 1, 1, 2, 4], n_rows).astype("int32")),
        "logprobs": pa.array(rng.random(n_rows) < 0.3),
        "top_logprobs": pa.array(rng.choice([0, 0, 5, 20], n_rows).astype("int32")),
        "reasoning_effort": _pick(_EFFORT, rng.integers(0, 4, n_rows)),
        "finish_reason": _pick(_FINISH, rng.integers(0, 4, n_rows)),
        "prompt_tokens": pa.array(rng.integers(5, 500, n_rows)),
        "completion_tokens": pa.array(rng.integers(5, 2000, n_rows)),
        "reasoning_tokens": pa.array(rng.integers(0, 300, n_rows)),
    }
    return conform(cols, n_rows)


def _lengthen(prompts: pa.Array, hashes: pa.Array, tmpl: np.ndarray, num: np.ndarray,
              share: float, seed: int) -> tuple[pa.Array, pa.Array]:
    """(prompts, hashes) with about ``share`` of the rows long: LONG_WORDS words appended (the
    same words for the same template and number) and the hash suffixed ``L`` (so it sorts among
    the short hashes, and long prompts reach each account's sample)."""
    long = pa.array(np.random.default_rng([seed, 1]).random(len(prompts)) < share)
    words = [_pick(_WORDS, (tmpl * (k + 3) + num * (2 * k + 1) + k) % len(_WORDS)) for k in range(LONG_WORDS)]
    tail = _cat(*[part for w in words for part in (" ", w)])
    return pc.if_else(long, _cat(prompts, tail), prompts), pc.if_else(long, _cat(hashes, "L"), hashes)


def conform(cols: dict[str, pa.Array], n_rows: int) -> pa.Table:
    """A REQUEST_SCHEMA table from ``cols``; absent columns are null."""
    arrays = []
    for field in REQUEST_SCHEMA:
        a = cols.get(field.name)
        arrays.append(pa.nulls(n_rows, field.type) if a is None else a.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=REQUEST_SCHEMA)
