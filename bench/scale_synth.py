"""One synthetic day written straight into a home's lake, for ``bench/scale_day.py``.

Why not ``detector simulate`` + ``detector ingest``: generating and parsing 10M JSON records takes
longer than the job being measured; this writes ``lake/requests/date=D/part-K.parquet`` in
REQUEST_SCHEMA directly, vectorised (Arrow kernels, no per-request Python), one part of at most
1M rows at a time, so generating 10M requests takes about a minute and little memory.

What it holds, so every stage has real work:

- benign accounts with log-normal daily volumes (most send tens of requests, a few thousands),
  diurnal (80% around a working-day peak hour, the rest anywhere), 2% of them behind 200 shared
  NAT addresses, their own key, user agent, card and model mix;
- hydra groups (one per 2,000 accounts, 10-120 members each): one regular stream handed round
  robin to the members, shared /24s, a shared script user agent, a few shared cards, scaffolded
  prompts, accounts created together two days before;
- prompt text: a pool of ``requests // 50`` (at least 20,000) free texts of 6-30 words from a
  5,000-word vocabulary; each account draws from a window of 2,000 pool texts around its own
  topic, in 8 variants each (hydra prompts add a chain-of-thought request half the time), so an
  account-day has up to 16,000 distinct prompts and the day up to ``8 x pool`` (1.6M at 10M): the embedding sample (256 per account-day), the
  feature sample (32) and the template/shingle passes of the clusters all see varied text.

Grain: one row per request, ``request_id`` unique; rows in time order.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.lake.io import write_parquet_atomic
from detector.lake.schema import REQUEST_SCHEMA

#: bumped when the generated data changes (part of the cache folder name in scale_day.py)
VERSION = 2
PART_ROWS = 1_000_000
WORDS = ["photosynthesis", "entropy", "recursion", "mortgage", "sonnet", "enzyme", "tariff",
         "quasar", "syntax", "torque", "inflation", "mitosis", "algorithm", "baroque", "cathode",
         "glacier", "ledger", "neuron", "prism", "sorbet"]
UAS = ["python-requests/2.32.3", "OpenAI/Python 1.54.4", "python-httpx/0.28.1", "axios/1.7.9",
       "node-fetch/3.3.2", "curl/8.5.0", "Go-http-client/2.0", "Chatbox/1.9.1", "TypingMind/2.3",
       "LibreChat/0.7.5", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0"]
SCAFFOLDS = [
    "Write a comprehensive tutorial on {w} for graduate students. Cover definitions, intuition, "
    "worked examples, common misconceptions and practice problems with full solutions. Item {n}.",
    "You are asked to come up with a set of 20 diverse task instructions about {w}. Each must be "
    "different and come with a complete, high-quality response. Batch {n}.",
    "Solve step by step and show all of your reasoning before the final answer: problem {n} on {w}.",
]
VARIANTS = ["", " Please be brief.", " Explain it simply.", " Give an example.",
            " Answer in French.", " Use a table.", " Be concise.", " Cite sources.",
            " Think step by step."]


def _dict(indices: np.ndarray, pool: pa.Array) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pool).cast(pa.string())


def _str(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _ts(epoch_s: np.ndarray) -> pa.Array:
    return pa.array((epoch_s * 1e6).astype("int64"), pa.timestamp("us", tz="UTC"))


def _prompt_pool(g: np.random.Generator, size: int) -> tuple[pa.Array, pa.Array]:
    vocab = [f"{WORDS[i % len(WORDS)][: 3 + i % 5]}{i}x" for i in range(5000)]
    lens = g.integers(6, 30, size)
    words = g.integers(0, len(vocab), int(lens.sum()))
    texts = [" ".join(vocab[w] for w in ws) for ws in np.split(words, np.cumsum(lens)[:-1])]
    hashes = [hashlib.sha1(t.encode()).hexdigest()[:15] for t in texts]
    return pa.array(texts), pa.array(hashes)


def generate(home: Path, day: str, n_accounts: int, n_requests: int, seed: int = 0) -> dict:
    """Write one day of about ``n_requests`` over ``n_accounts`` into ``home``'s lake."""
    g = np.random.default_rng(seed)
    day0 = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
    n_groups = max(1, n_accounts // 2000)
    sizes = g.integers(10, 120, n_groups)
    n_hyd = int(sizes.sum())
    n_ben = n_accounts - n_hyd
    group = np.concatenate([np.full(n_ben, -1), np.repeat(np.arange(n_groups), sizes)])
    rate = g.integers(40, 200, n_groups)
    weight = g.lognormal(0, 1.3, n_ben)
    counts = g.multinomial(n_requests - int((sizes * rate).sum()), weight / weight.sum())
    acct_parts = [np.repeat(np.arange(n_ben, dtype=np.int64), counts)]
    # benign: diurnal, each account around its own peak hour (most in the working day, UTC)
    peak = np.where(g.random(n_ben) < 0.8, g.normal(14, 2, n_ben), g.uniform(0, 24, n_ben))
    hour = peak[acct_parts[0]] + g.normal(0, 3, acct_parts[0].size)
    ts_parts = [day0 + np.mod(hour * 3600, 86400)]
    first = n_ben
    for size, r in zip(sizes.tolist(), rate.tolist(), strict=True):
        ts_parts.append(day0 + np.sort(g.uniform(0, 86400, size * r)))
        acct_parts.append(first + np.concatenate([g.permutation(size) for _ in range(r)]))
        first += size
    order = np.argsort(np.concatenate(ts_parts), kind="stable")
    ts = np.concatenate(ts_parts)[order]
    acct = np.concatenate(acct_parts)[order]
    del ts_parts, acct_parts, order
    sub = group[n_ben:]
    # per-account attributes
    home_ip = np.arange(n_accounts)
    nat = np.flatnonzero(g.random(n_ben) < 0.02)
    home_ip[nat] = n_accounts + g.integers(0, 200, nat.size)
    home_ip[n_ben:] = n_accounts + 200 + sub * 256 + g.integers(0, 256, n_hyd)
    ua = g.integers(0, len(UAS), n_accounts)
    ua[n_ben:] = len(UAS) + sub
    ua_pool = pa.array(UAS + [f"harvester/{k}.0" for k in range(n_groups)])
    max_tok = g.choice([-1, 1024, 2048, 4096], n_accounts)
    max_tok[n_ben:] = 8192
    pay = np.arange(n_accounts)
    pay[n_ben:] = n_accounts + sub * 4 + g.integers(0, 4, n_hyd)
    created = day0 - g.uniform(0, 3 * 365 * 86400, n_accounts)
    created[n_ben:] = day0 - 86400 * 2 - sub * 3600 + g.uniform(0, 1800, n_hyd)
    model_pref = g.integers(0, 3, n_accounts)
    # prompts: benign from a topic window of the pool, hydra from the group's scaffold
    pool_n = max(20_000, n_requests // 50)
    pool_text, pool_hash = _prompt_pool(g, pool_n)
    per_group = 500
    hyd_text = [f"[{k:04d}-run] " + SCAFFOLDS[k % 3].format(w=WORDS[i % len(WORDS)], n=i)
                for k in range(n_groups) for i in range(per_group)]
    texts = pa.concat_arrays([pool_text, pa.array(hyd_text)])
    hashes = pa.concat_arrays([pool_hash, pa.array(
        [hashlib.sha1(t.encode()).hexdigest()[:15] for t in hyd_text])])
    topic = g.integers(0, pool_n, n_accounts)
    folder = home / "lake" / "requests" / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    n = acct.size
    for k, lo in enumerate(range(0, n, PART_ROWS)):
        a = acct[lo:lo + PART_ROWS]
        m = a.size
        hyd = group[a] >= 0
        pidx = (topic[a] + g.integers(0, 2000, m)) % pool_n
        pidx[hyd] = pool_n + group[a[hyd]] * per_group + g.integers(0, per_group, int(hyd.sum()))
        var = g.integers(0, len(VARIANTS) - 1, m)
        var[hyd & (g.random(m) < 0.5)] = len(VARIANTS) - 1  # chain-of-thought: hydra only
        prompt = pc.binary_join_element_wise(_dict(pidx, texts), _dict(var, pa.array(VARIANTS)), "")
        ip = home_ip[a]
        ip_s = pc.binary_join_element_wise(
            _str(10 + (ip >> 16) % 200), _str((ip >> 8) & 255), _str(ip & 255), _str(7 + ip % 200), ".")
        prefix = pc.binary_join_element_wise(
            _str(10 + (ip >> 16) % 200), _str((ip >> 8) & 255), _str(ip & 255), "0/24", ".")
        acct_s = pc.binary_join_element_wise("acct_", _str(a), "")
        mt = max_tok[a]
        cols = {
            "request_id": pc.binary_join_element_wise(f"{day}-{seed}-", _str(np.arange(lo, lo + m)), ""),
            "ts": _ts(ts[lo:lo + m]),
            "account_id": acct_s,
            "api_key_id": pc.binary_join_element_wise(acct_s, "-k", _str(g.integers(0, 2, m)), ""),
            "endpoint": pa.array(np.full(m, "/v1/chat/completions")),
            "model": _dict((model_pref[a] + (g.random(m) < 0.2)) % 3, pa.array(["m-a", "m-b", "m-c"])),
            "client_ip": ip_s,
            "ip_prefix": prefix,
            "user_agent": _dict(ua[a], ua_pool),
            "payment_fingerprint": pc.binary_join_element_wise("pm_", _str(pay[a]), ""),
            "account_created_at": _ts(created[a]),
            "n_messages": pa.array(g.integers(1, 6, m).astype("int32")),
            "n_user_turns": pa.array(g.integers(1, 3, m).astype("int32")),
            "system_hash": pc.if_else(pa.array(a % 3 == 0), pa.scalar(None, pa.string()),
                                      pc.binary_join_element_wise("s", _str(a % 7), "")),
            "prompt_text": prompt,
            "prompt_hash": pc.binary_join_element_wise(_dict(pidx, hashes), _str(var), ""),
            "prompt_chars": pc.cast(pc.utf8_length(prompt), pa.int64()),
            "max_tokens": pa.array(np.where(mt < 0, 0, mt), mask=mt < 0),
            "temperature": pa.array(g.choice([0.0, 0.2, 0.7, 1.0], m)),
            "n": pa.array(np.where(hyd, 4, 1).astype("int32")),
            "logprobs": pa.array(g.random(m) < 0.1),
            "top_logprobs": pa.array(np.where(hyd, 20, 0).astype("int32")),
            "stream": pa.array(g.random(m) < 0.5),
            "reasoning_effort": _dict(g.integers(0, 3, m), pa.array(["low", "medium", "high"])),
            "status": pa.array(np.full(m, 200, dtype="int32")),
            "finish_reason": _dict((g.random(m) < 0.1).astype(int), pa.array(["stop", "length"])),
            "prompt_tokens": pa.array(g.integers(10, 400, m)),
            "completion_tokens": pa.array(g.integers(50, 2000, m)),
            "reasoning_tokens": pa.array(g.integers(0, 300, m)),
            "output_chars": pa.array(g.integers(200, 8000, m)),
            "latency_ms": pa.array(g.uniform(200, 9000, m)),
        }
        table = pa.Table.from_arrays(
            [cols[f.name].cast(f.type) if f.name in cols else pa.nulls(m, f.type)
             for f in REQUEST_SCHEMA], schema=REQUEST_SCHEMA)
        write_parquet_atomic(folder / f"part-{k}.parquet", table)
    return {"accounts": n_accounts, "requests": int(n), "hydra_groups": int(n_groups),
            "hydra_accounts": n_hyd, "prompt_pool": pool_n,
            "parts": len(list(folder.glob("part-*.parquet")))}


def read_rows(home: Path, day: str) -> int:
    """Rows of the day's request files (from the Parquet footers)."""
    folder = home / "lake" / "requests" / f"date={day}"
    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(folder.glob("part-*.parquet")))
