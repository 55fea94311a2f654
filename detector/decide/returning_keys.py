"""Linking keys of an account-day for returning actors (:mod:`detector.decide.returning`):
payment fingerprint, client profile, network prefix, system prompt and prompt-template scaffold,
each as a keyed hash (the index never holds a raw value).
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from detector.clusters.keys import GENERIC_UA_RE
from detector.clusters.templates import scaffold_rows

#: A profile or system prompt is an account's when it carries this share of its requests.
MIN_SHARE = 0.2
#: Scaffolds: prompts sampled, leading characters, fan-out cap of a shingle (as
#: ``ClusterParams``) and the fewest shingles a scaffold needs to count.
TEMPLATE_SAMPLE, TEMPLATE_MAX_CHARS, TEMPLATE_MAX_ACCOUNTS = 8, 400, 200
TEMPLATE_MIN_SHINGLES = 4


def day_keys(con: duckdb.DuckDBPyConnection, day: str, secret: str,
             accounts: list[str] | None = None) -> pd.DataFrame:
    """Rows (account_id, key_type, key) of the accounts active on ``day`` (all, or
    ``accounts``), keys as keyed hashes; template rows are scaffold shingles (``shingle``)."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW _rt_day AS SELECT * FROM requests "
                f"WHERE CAST(date AS DATE) = DATE '{date.fromisoformat(day).isoformat()}'")
    if accounts is not None:
        con.register("_rt_acc_df", pd.DataFrame({"account_id": pd.Series(accounts, dtype=object)}))
        con.execute("CREATE OR REPLACE TEMP TABLE _rt_acc AS SELECT DISTINCT "
                    "CAST(account_id AS VARCHAR) AS account_id FROM _rt_acc_df")
        con.unregister("_rt_acc_df")
        con.execute("CREATE OR REPLACE TEMP VIEW _rt_src AS SELECT * FROM _rt_day "
                    "SEMI JOIN _rt_acc USING (account_id)")
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW _rt_src AS SELECT * FROM _rt_day")
    client = ("concat_ws('|', user_agent, 'max_tokens=' || coalesce(CAST(max_tokens AS VARCHAR), ''), "
              "'temperature=' || coalesce(CAST(round(temperature, 2) AS VARCHAR), ''), "
              "'logprobs=' || coalesce(CAST(logprobs AS VARCHAR), '') || '/' "
              "|| coalesce(CAST(top_logprobs AS VARCHAR), ''), "
              "'n=' || coalesce(CAST(n AS VARCHAR), ''), "
              "'stream=' || coalesce(CAST(stream AS VARCHAR), ''), "
              "'format=' || coalesce(response_format, ''))")
    raw = f"""
    WITH tot AS (SELECT account_id, count(*) AS t FROM _rt_src GROUP BY account_id),
    dominant AS (
        SELECT account_id, key_type, raw FROM (
            SELECT account_id, 'client' AS key_type, {client} AS raw, count(*) AS c FROM _rt_src
            WHERE coalesce(user_agent, '') <> ''
              AND NOT regexp_matches(lower(user_agent), '{GENERIC_UA_RE}')
            GROUP BY ALL
            UNION ALL
            SELECT account_id, 'system', system_hash, count(*) FROM _rt_src
            WHERE coalesce(system_hash, '') <> '' GROUP BY ALL)
        JOIN tot USING (account_id) WHERE c >= {MIN_SHARE} * t),
    r AS (SELECT DISTINCT account_id, 'payment' AS key_type, payment_fingerprint AS raw
          FROM _rt_src WHERE coalesce(payment_fingerprint, '') <> ''
          UNION SELECT DISTINCT account_id, 'prefix', ip_prefix FROM _rt_src
          WHERE coalesce(ip_prefix, '') <> ''
          UNION SELECT * FROM dominant)
    SELECT account_id, key_type, {_hash_sql('raw', secret)} AS key FROM r
    """
    keys = con.execute(raw).df()
    sh = scaffold_rows(con, "_rt_src", TEMPLATE_SAMPLE, TEMPLATE_MAX_CHARS, TEMPLATE_MAX_ACCOUNTS)
    if not sh.empty:
        con.register("_rt_sh", sh)
        sh = con.execute(f"""SELECT account_id, 'shingle' AS key_type,
                                    {_hash_sql('CAST(sh AS VARCHAR)', secret, "'shingle'")} AS key
                             FROM _rt_sh WHERE account_id IN (
                                 SELECT account_id FROM _rt_sh GROUP BY account_id
                                 HAVING count(*) >= {TEMPLATE_MIN_SHINGLES})""").df()
        con.unregister("_rt_sh")
        keys = pd.concat([keys, sh], ignore_index=True)
    return keys[["account_id", "key_type", "key"]]


def _hash_sql(expr: str, secret: str, key_type: str = "key_type") -> str:
    """Keyed hash (32 hex) of ``expr`` for its key type: the secret comes first."""
    return f"left(sha256('{secret}|' || {key_type} || '|' || {expr}), 32)"
