"""Vectorised generator of canonical request rows for the feature parity test and benchmark.

Not the project's traffic simulator (``detector simulate``): just varied, seeded columns in
REQUEST_SCHEMA so every feature path (windows, regexes, joins, nulls) is exercised at any size.
Grain: one row per request.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from detector.lake.schema import REQUEST_SCHEMA

_WORDS = np.array(["alpha", "beta", "gamma", "delta", "explain", "translate", "summarise", "write", "code", "poem", "story", "list", "compare", "why", "how", "what", "Alice", "Bob", "Paris", "2024", "data", "model"])
_SUFFIX = np.array(["", "", "", " Think step by step.", " Show your reasoning.", " thanks"])
_UA = np.array(["python-requests/2.31", "Mozilla/5.0 (X11)", "openai-python/1.30", "curl/8.1", None],
               dtype=object)
_EFFORT = np.array(["low", "medium", "high", None], dtype=object)
_FINISH = np.array(["stop", "length", "stop", None], dtype=object)


def requests_table(day: str, n_rows: int, n_accounts: int, seed: int = 0,
                   models: tuple[str, ...] = ("m-a", "m-b", "m-c")) -> pa.Table:
    """``n_rows`` requests of ``day`` spread over ``n_accounts`` accounts (Zipf-like volumes)."""
    rng = np.random.default_rng(seed)
    acct = np.minimum(rng.zipf(1.3, n_rows) - 1, n_accounts - 1)
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    us = np.sort(rng.integers(0, 86_400_000_000, n_rows))
    ts = pa.array(np.datetime64(start.replace(tzinfo=None), "us") + us.astype("timedelta64[us]"),
                  pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
    tmpl = rng.integers(0, 40, n_rows)
    num = rng.integers(0, 50, n_rows)
    words = _WORDS[tmpl % len(_WORDS)]
    prompts = np.char.add(np.char.add(np.char.add(words, " the "), _WORDS[(tmpl * 7) % len(_WORDS)]),
                          np.char.add(" number ", num.astype(str)))
    prompts = np.char.add(prompts, _SUFFIX[rng.integers(0, len(_SUFFIX), n_rows)])
    ip_last = rng.integers(1, 6, n_rows)
    prefix = (acct % 50).astype(str)
    accounts = np.char.add("acct_", acct.astype(str))
    has_max = rng.random(n_rows) < 0.7
    cols = {
        "request_id": pa.array(np.char.add(f"{day}-{seed}-", np.arange(n_rows).astype(str))),
        "ts": ts,
        "account_id": pa.array(accounts),
        "api_key_id": pa.array(np.char.add(accounts, np.char.add("-k", (num % 3).astype(str)))),
        "model": pa.array(np.array(models)[rng.integers(0, len(models), n_rows)]),
        "client_ip": pa.array(np.char.add(np.char.add("10.0.", prefix), np.char.add(".", ip_last.astype(str)))),
        "ip_prefix": pa.array(np.char.add(np.char.add("10.0.", prefix), ".0/24")),
        "user_agent": pa.array(_UA[acct % len(_UA)], pa.string()),
        "payment_fingerprint": pa.array(np.char.add("pm_", (acct // 3).astype(str))),
        "account_created_at": pa.array(np.full(n_rows, np.datetime64(start.replace(tzinfo=None), "us"))
                                       - (acct.astype("int64") * 3_600_000_000).astype("timedelta64[us]"),
                                       pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
        "n_messages": pa.array(rng.integers(1, 4, n_rows).astype("int32")),
        "n_user_turns": pa.array(rng.integers(1, 3, n_rows).astype("int32")),
        "system_hash": pa.array(np.where(rng.random(n_rows) < 0.5, None, np.char.add("s", (acct % 4).astype(str))), pa.string()),
        "prompt_text": pa.array(prompts),
        "prompt_hash": pa.array(np.char.add("h", np.char.add(tmpl.astype(str), np.char.add("-", num.astype(str))))),
        "prompt_chars": pa.array(np.char.str_len(prompts).astype("int64")),
        "max_tokens": pa.array(np.where(has_max, rng.choice([256, 1024, 4096, 8192], n_rows), 0), mask=~has_max),
        "temperature": pa.array(rng.choice([0.0, 0.2, 0.7, 1.0], n_rows)),
        "n": pa.array(rng.choice([1, 1, 1, 2, 4], n_rows).astype("int32")),
        "logprobs": pa.array(rng.random(n_rows) < 0.3),
        "top_logprobs": pa.array(rng.choice([0, 0, 5, 20], n_rows).astype("int32")),
        "reasoning_effort": pa.array(_EFFORT[rng.integers(0, 4, n_rows)], pa.string()),
        "finish_reason": pa.array(_FINISH[rng.integers(0, 4, n_rows)], pa.string()),
        "prompt_tokens": pa.array(rng.integers(5, 500, n_rows)),
        "completion_tokens": pa.array(rng.integers(5, 2000, n_rows)),
        "reasoning_tokens": pa.array(rng.integers(0, 300, n_rows)),
    }
    return conform(cols, n_rows)


def conform(cols: dict[str, pa.Array], n_rows: int) -> pa.Table:
    """A REQUEST_SCHEMA table from ``cols``; absent columns are null."""
    arrays = []
    for field in REQUEST_SCHEMA:
        a = cols.get(field.name)
        arrays.append(pa.nulls(n_rows, field.type) if a is None else a.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=REQUEST_SCHEMA)
