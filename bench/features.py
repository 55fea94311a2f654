"""Feature-engine benchmark: Ibis-on-DuckDB partials vs one hand-written DuckDB SQL query vs a
straightforward pandas implementation of the same columns, measured side by side in one run.

    .venv/bin/python bench/features.py --rows 10000000 --accounts 20000

Writes bench/results/features.json. The sample-based text features (MinHash, entropies, CoT
classifier) have no SQL counterpart; their time is reported separately. Peak RSS is the
process maximum (resource.getrusage), which includes generation.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from detector.features import compute as feat_compute
from detector.features import engine, partials, sample
from detector.features.synth import requests_table
from detector.settings import load_settings

DAY = "2026-07-01"
HOURS = ", ".join(f"count(*) FILTER (WHERE hour = {h}) AS h{h:02d}" for h in range(24))

HAND_SQL = f"""
WITH r AS (
  SELECT account_id, model, api_key_id, ip_prefix, client_ip, user_agent, payment_fingerprint,
         system_hash, prompt_hash, prompt_text, request_id, account_created_at, temperature,
         finish_reason, max_tokens,
         hour(ts) AS hour, hour(ts) * 60 + minute(ts) AS minute,
         ((hour(ts) * 60 + minute(ts)) * 60 + second(ts)) * 1000 + millisecond(ts) % 1000 AS t_ms,
         coalesce(prompt_tokens, 0) AS in_tok, coalesce(completion_tokens, 0) AS out_tok,
         coalesce(reasoning_tokens, 0) AS reasoning_tok, coalesce(n, 1) AS n,
         coalesce(logprobs, false) OR coalesce(top_logprobs, 0) > 0 AS lp,
         coalesce(top_logprobs, 0) AS top_lp
  FROM req),
g AS (
  SELECT *, (t_ms - lag(t_ms) OVER w) / 1000.0 AS gap FROM r WINDOW w AS (PARTITION BY account_id ORDER BY t_ms, request_id)),
g2 AS (SELECT *, lag(gap) OVER (PARTITION BY account_id ORDER BY t_ms, request_id) AS pg FROM g),
main AS (
  SELECT account_id, count(*) AS n, count(DISTINCT prompt_hash) AS n_distinct_prompt,
    sum(in_tok) AS in_tok, sum(out_tok) AS out_tok, sum(reasoning_tok) AS reasoning_tok,
    count(DISTINCT hour) AS active_hours, count(DISTINCT model) AS n_models, {HOURS},
    count(gap) AS gap_n, sum(gap) AS gap_sum, sum(gap * gap) AS gap_sq,
    count(*) FILTER (WHERE pg IS NOT NULL AND gap >= 1 AND pg >= 1) AS pair_n,
    count(*) FILTER (WHERE pg IS NOT NULL AND gap >= 1 AND pg >= 1 AND abs(gap - pg) <= 0.1 * greatest(gap, pg)) AS periodic_n,
    count(*) FILTER (WHERE lp) AS logprobs_n, sum(top_lp) AS top_logprobs_sum,
    count(*) FILTER (WHERE n > 1) AS n_gt1, sum(n) AS n_sum,
    count(max_tokens) AS max_tokens_n, sum(max_tokens) AS max_tokens_sum,
    count(*) FILTER (WHERE max_tokens >= 4096) AS max_tokens_high_n,
    count(finish_reason) AS finish_n, count(*) FILTER (WHERE finish_reason = 'length') AS length_n,
    count(DISTINCT temperature) AS temp_distinct, min(temperature) AS temp_min, max(temperature) AS temp_max,
    count(*) FILTER (WHERE lower(prompt_text) SIMILAR TO '.*(step by step|show your reasoning).*') AS cot_lex_n,
    count(system_hash) AS system_n, count(DISTINCT system_hash) AS system_distinct,
    count(DISTINCT client_ip) AS ip_distinct, count(DISTINCT ip_prefix) AS prefix_distinct,
    count(DISTINCT user_agent) AS ua_distinct, count(DISTINCT api_key_id) AS key_distinct,
    min(account_created_at) AS created_min
  FROM g2 GROUP BY account_id),
tm AS (SELECT account_id, max(c) AS top_model_n FROM (SELECT account_id, model, count(*) c FROM r GROUP BY ALL) GROUP BY account_id),
pk AS (SELECT account_id, max(c) AS peak_rpm FROM (SELECT account_id, minute, count(*) c FROM r GROUP BY ALL) GROUP BY account_id),
tp AS (SELECT account_id, count(*) AS n_templates, max(c) AS top_template_n FROM (
  SELECT account_id, lower(regexp_replace(regexp_replace(regexp_replace(substr(prompt_text, 1, 300),
    '"[^"]*"', '"q"', 'g'), '[A-Z][a-z]+', 'N', 'g'), '[0-9]+([.,][0-9]+)*', '0', 'g')) AS t, count(*) c
  FROM r GROUP BY ALL) GROUP BY account_id),
sp AS (SELECT r.account_id, count(*) AS shared_prefix_n FROM r JOIN (
  SELECT ip_prefix FROM r GROUP BY ip_prefix HAVING count(DISTINCT account_id) >= 3) USING (ip_prefix) GROUP BY r.account_id),
pf AS (SELECT a.account_id, count(DISTINCT b.account_id) AS payment_shared_accounts FROM
  (SELECT DISTINCT account_id, payment_fingerprint FROM r) a JOIN (SELECT DISTINCT account_id, payment_fingerprint FROM r) b
  ON a.payment_fingerprint = b.payment_fingerprint AND a.account_id <> b.account_id GROUP BY a.account_id)
SELECT * FROM main LEFT JOIN tm USING (account_id) LEFT JOIN pk USING (account_id)
  LEFT JOIN tp USING (account_id) LEFT JOIN sp USING (account_id) LEFT JOIN pf USING (account_id)
"""


def pandas_partials(df: pd.DataFrame) -> pd.DataFrame:
    """A straightforward pandas implementation of the main partial columns."""
    df = df.copy()
    df["hour"] = df["ts"].dt.hour
    df["minute"] = df["hour"] * 60 + df["ts"].dt.minute
    df["t_ms"] = (df["ts"] - df["ts"].dt.normalize()).dt.total_seconds() * 1000 // 1
    df = df.sort_values(["account_id", "t_ms", "request_id"])
    df["gap"] = df.groupby("account_id")["t_ms"].diff() / 1000.0
    df["pg"] = df.groupby("account_id")["gap"].shift()
    pair = df["pg"].notna() & (df["gap"] >= 1) & (df["pg"] >= 1)
    df["pair"] = pair
    df["periodic"] = pair & ((df["gap"] - df["pg"]).abs() <= 0.1 * np.maximum(df["gap"], df["pg"]))
    df["lp"] = df["logprobs"].fillna(False).astype(bool) | (df["top_logprobs"].fillna(0) > 0)
    df["gap_sq"] = df["gap"] ** 2
    df["cot"] = df["prompt_text"].str.lower().str.contains("step by step|show your reasoning", regex=True)
    df["tmpl"] = (df["prompt_text"].str.slice(0, 300).str.replace(r'"[^"]*"', '"q"', regex=True)
                  .str.replace("[A-Z][a-z]+", "N", regex=True)
                  .str.replace(r"[0-9]+([.,][0-9]+)*", "0", regex=True).str.lower())
    g = df.groupby("account_id")
    out = pd.DataFrame({
        "n": g.size(), "n_distinct_prompt": g["prompt_hash"].nunique(),
        "in_tok": g["prompt_tokens"].sum(), "out_tok": g["completion_tokens"].sum(),
        "active_hours": g["hour"].nunique(), "n_models": g["model"].nunique(),
        "gap_n": g["gap"].count(), "gap_sum": g["gap"].sum(), "gap_sq": g["gap_sq"].sum(),
        "pair_n": g["pair"].sum(), "periodic_n": g["periodic"].sum(), "logprobs_n": g["lp"].sum(),
        "max_tokens_n": g["max_tokens"].count(), "max_tokens_sum": g["max_tokens"].sum(),
        "temp_distinct": g["temperature"].nunique(), "cot_lex_n": g["cot"].sum(),
        "ip_distinct": g["client_ip"].nunique(), "key_distinct": g["api_key_id"].nunique(),
        "created_min": g["account_created_at"].min(),
    })
    hours = pd.crosstab(df["account_id"], df["hour"])
    out = out.join(hours.add_prefix("h"))
    out["peak_rpm"] = df.groupby(["account_id", "minute"]).size().groupby(level=0).max()
    out["top_model_n"] = df.groupby(["account_id", "model"]).size().groupby(level=0).max()
    tc = df.groupby(["account_id", "tmpl"]).size()
    out["n_templates"] = tc.groupby(level=0).size()
    out["top_template_n"] = tc.groupby(level=0).max()
    crowd = df.groupby("ip_prefix")["account_id"].nunique()
    shared = df["ip_prefix"].isin(crowd[crowd >= 3].index)
    out["shared_prefix_n"] = shared.groupby(df["account_id"]).sum()
    return out.reset_index()


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--accounts", type=int, default=5_000)
    ap.add_argument("--skip-pandas", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "features.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        s = load_settings(Path(tmp) / "home")
        s.ensure_dirs()
        path = s.requests_dir / f"date={DAY}" / "part-0.parquet"
        path.parent.mkdir(parents=True)
        gen_s, table = _timed(lambda: requests_table(DAY, args.rows, args.accounts, seed=1))
        pq.write_table(table, path, compression="zstd")
        del table
        eng = engine.connect(s, "duckdb")
        eng.bind_parquet("dg_day", [path])
        eng.bind_parquet("dg_lake", [path])
        fs = eng.run("first_seen", lambda: partials.first_seen_models(eng.table("dg_lake")))
        eng.bind_arrow("dg_first_seen", fs)
        eng.run("partials", lambda: partials.partials(eng.table("dg_day"), eng.table("dg_first_seen")))  # compile
        ibis_s, p_ibis = _timed(lambda: eng.run(
            "partials", lambda: partials.partials(eng.table("dg_day"), eng.table("dg_first_seen"))))
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE VIEW req AS SELECT * FROM read_parquet('{path}')")
        sql_s, p_sql = _timed(lambda: con.sql(HAND_SQL).to_arrow_table())
        sample_s, _ = _timed(lambda: sample.sample_features(
            eng.run("sample", lambda: sample.sample_expr(eng.table("dg_day")))))
        full_s, _ = _timed(lambda: feat_compute(s, [DAY], force=True))
        pandas_s = None
        if not args.skip_pandas:
            df = pq.read_table(path).to_pandas()
            pandas_s, _ = _timed(lambda: pandas_partials(df))
            del df
        assert p_ibis.num_rows == p_sql.num_rows
    result = {
        "rows": args.rows, "accounts_requested": args.accounts, "accounts": p_ibis.num_rows,
        "generate_s": round(gen_s, 2), "ibis_duckdb_partials_s": round(ibis_s, 2),
        "hand_sql_partials_s": round(sql_s, 2),
        "ratio_ibis_over_sql": round(ibis_s / sql_s, 2),
        "pandas_partials_s": None if pandas_s is None else round(pandas_s, 2),
        "speedup_ibis_vs_pandas": None if pandas_s is None else round(pandas_s / ibis_s, 2),
        "sample_features_s": round(sample_s, 2), "full_compute_day_s": round(full_s, 2),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "cores": 2, "note": "measured side by side in one process on a shared 2-core machine",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
