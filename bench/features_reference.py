"""The two reference implementations ``bench/features.py`` compares ours to, on the same columns.

- :func:`hand_sql`: one DuckDB query for the whole ``features/partials`` table, as a SQL
  writer would do it by hand (regexes per request, one window).
- :func:`pandas_partials` / :func:`pandas_daily`: idiomatic pandas (vectorised columns, named
  ``groupby().agg``); the sample features by a per-account ``groupby().apply`` written from the
  catalog's definitions: the fixed entropy budget (the first ``sample.ENTROPY_PROMPTS`` prompts,
  the first ``SHINGLES_PER_PROMPT`` 4-grams / ``WORDS_PER_PROMPT`` words of each), the masked
  templates' pair collision and top share. MinHash shingles, signatures, word tokens and the
  CoT classifier are shared kernels.

pandas reads only the request columns the features use (:data:`PANDAS_COLUMNS`), as the
engines do.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.features import cot, derive, minhash, partials, sample
from detector.features.lexicon import alternation, load_phrases

#: Request columns the features use (pandas reads only these, as the engines do).
PANDAS_COLUMNS = ["request_id", "ts", "account_id", "api_key_id", "model", "client_ip", "ip_prefix",
                  "user_agent", "payment_fingerprint", "end_user_hash", "account_created_at", "n_user_turns", "system_hash",
                  "prompt_text", "prompt_hash", "max_tokens", "temperature", "n", "logprobs", "top_logprobs",
                  "reasoning_effort", "finish_reason", "prompt_tokens", "completion_tokens", "reasoning_tokens"]


def sql_literal(text: str) -> str:
    """``text`` as a quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def hand_sql() -> str:
    """One DuckDB query for the whole partials table, as a SQL writer would do it by hand."""
    hours = ",\n    ".join(f"count(*) FILTER (WHERE hour = {h}) AS h{h:02d}" for h in range(24))
    cot_re = sql_literal(alternation(load_phrases("cot_phrases")))
    ua_re = sql_literal(alternation(load_phrases("script_user_agents")))
    effort = ", ".join(sql_literal(e) for e in partials.HIGH_EFFORT)
    return f"""
WITH r AS MATERIALIZED (
  SELECT q.account_id, q.request_id, q.model, q.api_key_id, q.client_ip, q.ip_prefix, q.user_agent,
    q.payment_fingerprint, q.account_created_at, q.prompt_hash, q.system_hash,
    q.end_user_hash,
    q.max_tokens, q.temperature, q.finish_reason,
    hour(q.ts) AS hour, hour(q.ts) * 60 + minute(q.ts) AS minute,
    (epoch_us(q.ts) - epoch_us(date_trunc('day', q.ts))) // 1000 AS t_ms,
    coalesce(q.prompt_tokens, 0) AS in_tok, coalesce(q.completion_tokens, 0) AS out_tok,
    coalesce(q.reasoning_tokens, 0) AS reasoning_tok, coalesce(q.n, 1) AS n,
    coalesce(q.logprobs, false) OR coalesce(q.top_logprobs, 0) > 0 AS lp,
    coalesce(q.top_logprobs, 0) AS top_lp,
    coalesce(lower(q.reasoning_effort) IN ({effort}), false) AS high_effort,
    coalesce(q.n_user_turns, 1) > 1 AS multiturn,
    coalesce(regexp_matches(lower(q.prompt_text), {cot_re}), false) AS cot,
    coalesce(regexp_matches(lower(q.user_agent), {ua_re}), false) AS script_ua,
    coalesce(q.ts < f.first_ts + INTERVAL {partials.NEW_MODEL_HOURS} HOUR, false) AS new_model
  FROM req q LEFT JOIN first_seen f ON q.model = f.model),
g AS (
  SELECT *, t_ms - lag(t_ms) OVER w AS gap_ms, (t_ms - lag(t_ms) OVER w) / 1000.0 AS gap, (lag(t_ms) OVER w - lag(t_ms, 2) OVER w) / 1000.0 AS pg
  FROM r WINDOW w AS (PARTITION BY account_id ORDER BY t_ms, request_id)),
main AS (
  SELECT account_id, count(*) AS n, count(DISTINCT prompt_hash) AS n_distinct_prompt,
    sum(in_tok) AS in_tok, sum(out_tok) AS out_tok, sum(reasoning_tok) AS reasoning_tok,
    count(DISTINCT hour) AS active_hours, count(DISTINCT model) AS n_models,
    {hours},
    count(gap) AS gap_n, CAST(sum(gap_ms) AS BIGINT) AS gap_ms_sum,
    CAST(sum(gap_ms * gap_ms) AS BIGINT) AS gap_ms_sq,
    count(*) FILTER (WHERE pg IS NOT NULL AND gap >= 1 AND pg >= 1) AS pair_n,
    count(*) FILTER (WHERE pg IS NOT NULL AND gap >= 1 AND pg >= 1
                     AND abs(gap - pg) <= {partials.PERIODIC_TOLERANCE} * greatest(gap, pg)) AS periodic_n,
    count(*) FILTER (WHERE lp) AS logprobs_n, sum(top_lp) AS top_logprobs_sum,
    count(*) FILTER (WHERE n > 1) AS n_gt1, sum(n) AS n_sum,
    count(max_tokens) AS max_tokens_n, sum(max_tokens) AS max_tokens_sum,
    count(*) FILTER (WHERE max_tokens >= {partials.HIGH_MAX_TOKENS}) AS max_tokens_high_n,
    count(finish_reason) AS finish_n, count(*) FILTER (WHERE finish_reason = 'length') AS length_n,
    count(DISTINCT temperature) AS temp_distinct, min(temperature) AS temp_min, max(temperature) AS temp_max,
    count(*) FILTER (WHERE high_effort) AS high_effort_n, count(*) FILTER (WHERE cot) AS cot_lex_n,
    count(*) FILTER (WHERE multiturn) AS multiturn_n,
    count(system_hash) AS system_n, count(DISTINCT system_hash) AS system_distinct,
    count(DISTINCT client_ip) AS ip_distinct, count(DISTINCT ip_prefix) AS prefix_distinct,
    count(DISTINCT user_agent) AS ua_distinct, count(DISTINCT api_key_id) AS key_distinct,
    count(DISTINCT end_user_hash) AS end_user_distinct,
    count(*) FILTER (WHERE script_ua) AS script_ua_n, count(*) FILTER (WHERE new_model) AS new_model_n,
    min(account_created_at) AS created_min
  FROM g GROUP BY account_id),
tm AS (SELECT account_id, max(c) AS top_model_n FROM
  (SELECT account_id, model, count(*) AS c FROM r GROUP BY ALL) GROUP BY account_id),
pk AS (SELECT account_id, max(c) AS peak_rpm FROM
  (SELECT account_id, minute, count(*) AS c FROM r GROUP BY ALL) GROUP BY account_id),
ke AS (SELECT account_id, CASE WHEN count(*) >= 2 THEN -sum(c / tot * log2(c / tot)) / log2(count(*)) END
    AS key_evenness FROM (
  SELECT account_id, count(*)::DOUBLE AS c, sum(count(*)) OVER (PARTITION BY account_id)::DOUBLE AS tot
  FROM r WHERE api_key_id IS NOT NULL GROUP BY account_id, api_key_id) GROUP BY account_id),
sp AS (SELECT account_id, count(*) AS shared_prefix_n FROM r WHERE ip_prefix IN (
  SELECT ip_prefix FROM r GROUP BY ip_prefix HAVING count(DISTINCT account_id) >= {partials.SHARED_PREFIX_ACCOUNTS})
  GROUP BY account_id),
pay AS (SELECT DISTINCT account_id, payment_fingerprint FROM r WHERE payment_fingerprint IS NOT NULL),
pf AS (SELECT a.account_id, count(DISTINCT b.account_id) AS payment_shared_accounts
  FROM pay a JOIN pay b ON a.payment_fingerprint = b.payment_fingerprint AND a.account_id <> b.account_id
  GROUP BY a.account_id)
SELECT main.*, tm.top_model_n, pk.peak_rpm, ke.key_evenness,
  coalesce(sp.shared_prefix_n, 0) AS shared_prefix_n,
  coalesce(pf.payment_shared_accounts, 0) AS payment_shared_accounts
FROM main LEFT JOIN tm USING (account_id) LEFT JOIN pk USING (account_id)
  LEFT JOIN ke USING (account_id) LEFT JOIN sp USING (account_id) LEFT JOIN pf USING (account_id)
"""


# --- straightforward pandas ------------------------------------------------------------------

def _template(text: pd.Series) -> pd.Series:
    t = text.fillna("").str.slice(0, partials.TEMPLATE_CHARS)
    t = t.str.replace(r'"[^"]*"', '"q"', regex=True).str.replace("\u201c[^\u201d]*\u201d", '"q"', regex=True)
    t = t.str.replace("[A-Z][a-z]+", "N", regex=True).str.replace(r"[0-9]+([.,][0-9]+)*", "0", regex=True)
    return t.str.lower().str.replace(r"[ \t\r\n]+", " ", regex=True).str.strip()


def _enrich_pandas(df: pd.DataFrame, first_seen: pd.DataFrame) -> pd.DataFrame:
    df = df.merge(first_seen, on="model", how="left")
    ts = df["ts"]
    df["hour"] = ts.dt.hour
    df["minute"] = df["hour"] * 60 + ts.dt.minute
    df["t_ms"] = (ts - ts.dt.floor("D")) // pd.Timedelta(milliseconds=1)
    df["in_tok"] = df["prompt_tokens"].fillna(0)
    df["out_tok"] = df["completion_tokens"].fillna(0)
    df["reasoning_tok"] = df["reasoning_tokens"].fillna(0)
    df["n"] = df["n"].fillna(1)
    df["top_lp"] = df["top_logprobs"].fillna(0)
    df["lp"] = df["logprobs"].fillna(False).astype(bool) | (df["top_lp"] > 0)
    df["high_effort"] = df["reasoning_effort"].str.lower().isin(partials.HIGH_EFFORT)
    df["multiturn"] = df["n_user_turns"].fillna(1) > 1
    df["cot"] = df["prompt_text"].str.lower().str.contains(alternation(load_phrases("cot_phrases")),
                                                           regex=True).fillna(False).astype(bool)
    df["script_ua"] = df["user_agent"].str.lower().str.contains(
        alternation(load_phrases("script_user_agents")), regex=True).fillna(False).astype(bool)
    df["new_model"] = (ts < df["first_ts"] + pd.Timedelta(hours=partials.NEW_MODEL_HOURS)).fillna(False)
    df = df.sort_values(["account_id", "t_ms", "request_id"])
    df["gap"] = df.groupby("account_id")["t_ms"].diff() / 1000.0
    df["pg"] = df.groupby("account_id")["gap"].shift()
    pair = df["pg"].notna() & (df["gap"] >= 1) & (df["pg"] >= 1)
    df["pair"] = pair
    df["periodic"] = pair & ((df["gap"] - df["pg"]).abs() <= partials.PERIODIC_TOLERANCE * np.maximum(df["gap"], df["pg"]))
    df["gap_ms"] = df.groupby("account_id")["t_ms"].diff()
    df["gap_ms_sq"] = df["gap_ms"] ** 2
    df["max_tokens_high"] = df["max_tokens"] >= partials.HIGH_MAX_TOKENS
    df["n_gt1"] = df["n"] > 1
    df["length"] = df["finish_reason"] == "length"
    return df


def pandas_partials(df: pd.DataFrame, first_seen: pd.DataFrame) -> pd.DataFrame:
    """The whole partials table in idiomatic pandas (same columns as ``partials.partials``)."""
    df = _enrich_pandas(df, first_seen)
    g = df.groupby("account_id")
    out = g.agg(
        n=("request_id", "size"), n_distinct_prompt=("prompt_hash", "nunique"),
        in_tok=("in_tok", "sum"), out_tok=("out_tok", "sum"), reasoning_tok=("reasoning_tok", "sum"),
        active_hours=("hour", "nunique"), n_models=("model", "nunique"),
        gap_n=("gap", "count"), gap_ms_sum=("gap_ms", "sum"), gap_ms_sq=("gap_ms_sq", "sum"),
        pair_n=("pair", "sum"), periodic_n=("periodic", "sum"), logprobs_n=("lp", "sum"),
        top_logprobs_sum=("top_lp", "sum"), n_gt1=("n_gt1", "sum"), n_sum=("n", "sum"),
        max_tokens_n=("max_tokens", "count"), max_tokens_sum=("max_tokens", "sum"),
        max_tokens_high_n=("max_tokens_high", "sum"), finish_n=("finish_reason", "count"),
        length_n=("length", "sum"), temp_distinct=("temperature", "nunique"),
        temp_min=("temperature", "min"), temp_max=("temperature", "max"),
        high_effort_n=("high_effort", "sum"), cot_lex_n=("cot", "sum"), multiturn_n=("multiturn", "sum"),
        system_n=("system_hash", "count"), system_distinct=("system_hash", "nunique"),
        ip_distinct=("client_ip", "nunique"), prefix_distinct=("ip_prefix", "nunique"),
        ua_distinct=("user_agent", "nunique"), key_distinct=("api_key_id", "nunique"),
        end_user_distinct=("end_user_hash", "nunique"),
        script_ua_n=("script_ua", "sum"), new_model_n=("new_model", "sum"),
        created_min=("account_created_at", "min"),
    )
    hours = df.groupby(["account_id", "hour"]).size().unstack(fill_value=0).reindex(columns=range(24), fill_value=0)
    out = out.join(hours.rename(columns=lambda h: f"h{h:02d}"))
    out["top_model_n"] = df.groupby(["account_id", "model"], dropna=False).size().groupby(level=0).max()
    out["peak_rpm"] = df.groupby(["account_id", "minute"]).size().groupby(level=0).max()
    kc = df.groupby(["account_id", "api_key_id"]).size()
    p = kc / kc.groupby(level=0).transform("sum")
    keys = kc.groupby(level=0).size()
    out["key_evenness"] = ((-p * np.log2(p)).groupby(level=0).sum() / np.log2(keys)).where(keys >= 2)
    crowd = df.groupby("ip_prefix")["account_id"].nunique()
    shared = df["ip_prefix"].isin(crowd[crowd >= partials.SHARED_PREFIX_ACCOUNTS].index)
    out["shared_prefix_n"] = shared.groupby(df["account_id"]).sum()
    pay = df[["account_id", "payment_fingerprint"]].dropna().drop_duplicates()
    m = pay.merge(pay, on="payment_fingerprint")
    m = m[m["account_id_x"] != m["account_id_y"]]
    out["payment_shared_accounts"] = m.groupby("account_id_x")["account_id_y"].nunique()
    out[["shared_prefix_n", "payment_shared_accounts"]] = out[["shared_prefix_n", "payment_shared_accounts"]].fillna(0)
    out["key_distinct"] = out["key_distinct"].fillna(0)
    # SQL semantics: a sum over no non-null values is null (pandas gives 0)
    out.loc[out["gap_n"] == 0, ["gap_ms_sum", "gap_ms_sq"]] = np.nan
    out.loc[out["max_tokens_n"] == 0, "max_tokens_sum"] = np.nan
    return out.reset_index()


def _entropy(tokens: np.ndarray) -> float:
    """Shannon entropy (bits) of a list of tokens."""
    if len(tokens) == 0:
        return np.nan  # no tokens: undefined, as minhash.group_entropy
    _, counts = np.unique(tokens, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _budget_entropy(rows: np.ndarray, tokens: np.ndarray, n_texts: int, per_text: int) -> float:
    """Entropy of the first ``per_text`` tokens of each of ``n_texts`` texts (``rows``: owner)."""
    return _entropy(np.concatenate([tokens[rows == i][:per_text] for i in range(n_texts)]))


def _account_sample_features(texts: pd.Series) -> pd.Series:
    """The sample features of one account's sampled prompts, in prompt_hash order (groupby-apply
    body). Entropies as the catalog defines them: the first ENTROPY_PROMPTS prompts, the first
    SHINGLES_PER_PROMPT 4-grams / WORDS_PER_PROMPT words of each; null below ENTROPY_PROMPTS."""
    t = texts.tolist()
    groups = np.zeros(len(t), dtype=np.int64)
    rows, hashes = minhash.shingles(t)
    near = minhash.near_dup_flags(groups, minhash.signatures(rows, hashes, len(t))).mean()
    char_ent = word_ent = np.nan
    if len(t) >= sample.ENTROPY_PROMPTS:
        first = t[:sample.ENTROPY_PROMPTS]
        char_ent = _budget_entropy(*minhash.shingles(first), len(first), sample.SHINGLES_PER_PROMPT)
        word_ent = _budget_entropy(*minhash.word_tokens(first), len(first), sample.WORDS_PER_PROMPT)
    cot_share = (cot.scores(t) >= cot.THRESHOLD).mean()
    c = _template(texts).value_counts().to_numpy(dtype=float)
    k = float(len(t))
    reuse = (c * (c - 1)).sum() / (k * (k - 1)) if k >= 2 else np.nan
    top = c.max() / k if k >= 2 else np.nan
    return pd.Series({"div_near_dup_rate": near, "div_char_ngram_entropy": char_ent,
                      "div_word_ngram_entropy": word_ent, "hv_cot_classifier_share": cot_share,
                      "div_template_reuse": reuse, "div_top_template_share": top})


def pandas_sample_features(df: pd.DataFrame) -> pd.DataFrame:
    """Sample (up to SAMPLE_K distinct prompts per account, smallest hash first) + features."""
    s = df[df["prompt_hash"].notna()].groupby(["account_id", "prompt_hash"])["prompt_text"].min()
    s = s.groupby(level=0).head(sample.SAMPLE_K)
    return s.groupby(level=0).apply(_account_sample_features).unstack().reset_index()


def pandas_daily(df: pd.DataFrame, first_seen: pd.DataFrame, day: str) -> pa.Table:
    """All daily features of ``day`` (one day's requests in ``df``): partials, sample features,
    the catalog's formulas (``derive.daily_table``)."""
    p = pandas_partials(df, first_seen)
    p["date"] = dt.date.fromisoformat(day)
    return derive.daily_table(p, pandas_sample_features(df))
