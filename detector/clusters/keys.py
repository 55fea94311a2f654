"""Blocking keys -> candidate account pairs, computed inside DuckDB (never all pairs).

A key is anything two accounts can share: a payment instrument, an address used in the same
hour, a client fingerprint, a creation-time bucket. Only accounts sharing a key are compared,
and a key shared by more than ``cap`` accounts is *popular* (a university NAT, a mobile
carrier, a stock SDK): it yields no pair edges, so work stays linear in the data.

Grain of every result: one row per unordered account pair (src < dst) and edge type.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from detector.clusters import dialect, exact
from detector.settings import Settings

#: User agents of stock HTTP libraries and SDKs: weak evidence on their own.
GENERIC_UA_RE = (
    r"^(python-requests|python-httpx|httpx|python-urllib|aiohttp|openai|asyncopenai|anthropic|"
    r"litellm|langchain|llama|axios|node-fetch|undici|node|got|curl|wget|go-http-client|okhttp|"
    r"java|apache-httpclient|ruby|faraday|guzzle|php|dart|postman|insomnia|mozilla|dotnet|"
    r"restsharp|reqwest|libcurl)"
)

PAIR_COLUMNS = ["src", "dst", "edge_type", "weight", "evidence"]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("src", "dst", "edge_type", "evidence")
                                      else "float64") for c in PAIR_COLUMNS})


def key_rows_sql(key_sql: str, star: bool = False) -> str:
    """Distinct key rows of ``key_sql`` (key as text; nulls dropped): what the pairing reads.
    ``star``: (key, account_id) only."""
    cols = "key, account_id" if star else "key, slot, account_id, factor"
    return (f"SELECT DISTINCT CAST(key AS VARCHAR) AS {cols} FROM ({key_sql}) "
            "WHERE key IS NOT NULL AND account_id IS NOT NULL")


def key_pairs(con: duckdb.DuckDBPyConnection, edge_type: str, key_sql: str, cap: int,
              weigh: str = "popularity", normalize: bool = False,
              min_weight: float = 0.0, spark: Any = None,
              scratch: Settings | None = None) -> pd.DataFrame:
    """Pairs of accounts sharing a key of ``key_sql`` (columns key, slot, account_id, factor).

    Two accounts share a key when both hold it in the same ``slot`` (an hour for addresses,
    0 when time does not matter). ``m`` = distinct accounts holding the key in the whole
    window; keys with m > cap are skipped. A shared key weighs ``factor * sqrt(2/m)``
    (``weigh='popularity'``: 1 for two accounts, 0.1 for two hundred), ``factor`` itself
    (``weigh='factor'``) or 1 (``weigh='one'``). A pair's weight is the sum over its shared
    keys (exact, ``exact.sum_sql``: the same bits in any order), capped at 1. With
    ``normalize`` the sum is divided by sqrt(Ka * Kb), Ka being the number of distinct keys
    account a holds (cosine-like): an account spraying thousands of addresses (a reseller
    relaying end users, a residential proxy) meets others on a few by chance, which must not
    add up to a link. Keys weighing under ``min_weight`` make no pairs (this bounds the work:
    a key of m accounts costs m^2/2 pairs) and pairs under it are dropped. Evidence (JSON text)
    keeps the three least popular shared keys.

    With ``spark`` (a SparkSession) the key rows are read here and the pairing runs on the
    cluster (``detector.clusters.spark_sql``), giving the same pairs; with ``scratch`` (the
    home's settings) the rows reach it as a scratch file in the home's cluster cache
    (``spark_sql._view``).
    """
    if spark is not None:
        from detector.clusters import spark_sql

        rows = con.sql("SELECT key, CAST(slot AS BIGINT) AS slot, account_id, "
                           f"CAST(factor AS DOUBLE) AS factor FROM ({key_rows_sql(key_sql)})")
        return spark_sql.key_pairs(spark, rows.to_arrow_table(), edge_type, cap, weigh,
                                   normalize, min_weight, scratch)
    w = {"one": "1.0", "popularity": "factor * sqrt(2.0 / m)", "factor": "factor"}[weigh]
    total = exact.sum_sql("kw")  # the same bits whatever order threads add the terms in
    combine = (f"least(1.0, {total} / any_value(norm))" if normalize
               else f"least(1.0, {total})")
    held = ", 'keys_held_geomean': round(any_value(norm), 1)" if normalize else ""
    sql = f"""
    WITH k AS ({key_rows_sql(key_sql)}),
    pop AS (SELECT key, count(DISTINCT account_id) AS m FROM k GROUP BY key),
    kc AS (SELECT account_id, count(DISTINCT key) AS kc FROM k GROUP BY account_id),
    kk AS (SELECT * FROM (SELECT k.*, pop.m, kc.kc, {w} AS kw
                          FROM k JOIN pop USING (key) JOIN kc USING (account_id)
                          WHERE pop.m BETWEEN 2 AND {int(cap)})
           WHERE kw >= {float(min_weight)}),
    pk AS (SELECT a.account_id AS src, b.account_id AS dst, a.key, a.m,
                  count(*) AS n_slots, min(least(a.kw, b.kw)) AS kw,
                  any_value(sqrt(a.kc * b.kc)) AS norm
           FROM kk a JOIN kk b ON a.key = b.key AND a.slot = b.slot
                               AND a.account_id < b.account_id
           GROUP BY ALL)
    SELECT src, dst, '{edge_type}' AS edge_type, {combine} AS weight,
           CAST(to_json({{'shared': list({{'key': key, 'accounts': m, 'slots': n_slots}}
                                         ORDER BY m, key)[1:3],
                         'n_keys': count(*), 'n_slots': sum(n_slots){held}}}) AS VARCHAR)
               AS evidence
    FROM pk GROUP BY src, dst HAVING {combine} >= {float(min_weight)}
    """
    df = con.execute(sql).df()
    return _empty() if df.empty else df[PAIR_COLUMNS]


def star_pairs(con: duckdb.DuckDBPyConnection, edge_type: str, key_sql: str,
               cap: int, spark: Any = None,
               scratch: Settings | None = None) -> pd.DataFrame:
    """Star edges for keys held by more than ``cap`` accounts: each member to one hub.

    Used for payment instruments, where sharing stays strong evidence however many accounts
    share it; m - 1 edges instead of m^2 / 2. The hub is the smallest account id. With
    ``spark`` (and ``scratch``), on the cluster as in :func:`key_pairs`.
    """
    if spark is not None:
        from detector.clusters import spark_sql

        rows = con.sql(key_rows_sql(key_sql, star=True)).to_arrow_table()
        return spark_sql.star_pairs(spark, rows, edge_type, cap, scratch)
    sql = f"""
    WITH k AS ({key_rows_sql(key_sql, star=True)}),
    pop AS (SELECT key, count(*) AS m, min(account_id) AS hub FROM k GROUP BY key
            HAVING count(*) > {int(cap)})
    SELECT pop.hub AS src, k.account_id AS dst, '{edge_type}' AS edge_type, 1.0 AS weight,
           CAST(to_json({{'shared': [{{'key': k.key, 'accounts': pop.m, 'slots': 1}}],
                         'star': true, 'n_keys': 1, 'n_slots': 1}}) AS VARCHAR) AS evidence
    FROM k JOIN pop USING (key) WHERE k.account_id <> pop.hub
    """
    df = con.execute(sql).df()
    return _empty() if df.empty else df[PAIR_COLUMNS]


def payment_sql() -> str:
    """Key rows: the payment instruments of each account in the window."""
    return ("SELECT payment_fingerprint AS key, 0 AS slot, account_id, 1.0 AS factor "
            "FROM win WHERE payment_fingerprint IS NOT NULL AND payment_fingerprint <> ''")


def address_sql(column: str, slot_s: int, factor: float) -> str:
    """Key rows: an address (``client_ip`` or ``ip_prefix``) per account and time slot."""
    return (f"SELECT {column} AS key, {dialect.slot('ts', slot_s)} AS slot, "
            f"account_id, {float(factor)} AS factor FROM win "
            f"WHERE {column} IS NOT NULL AND {column} <> ''")


def cached_address_sql(table: str, factor: float) -> str:
    """Key rows of ``address_sql`` from a table of distinct (account_id, key, slot) rows."""
    return f"SELECT key, slot, account_id, {float(factor)} AS factor FROM {table}"


def cached_payment_sql(table: str) -> str:
    """Key rows of ``payment_sql`` from a table of distinct (account_id, key) rows."""
    return f"SELECT key, 0 AS slot, account_id, 1.0 AS factor FROM {table}"


def profile_sql(source: str, engine: str = "duckdb") -> str:
    """Rows (account_id, key, generic, c): requests per client profile and account (DuckDB
    or Spark SQL, ``engine``: the same rows on both).

    A profile is user agent + max_tokens + temperature + logprobs pattern + system prompt
    hash; ``generic`` marks stock-library user agents. Counts of several sources (days) add.
    The temperature is kept to two decimals as ``round(t * 100) / 100``: both engines round
    an exact double product alike, where ``round(t, 2)`` does not (Spark rounds the decimal
    text, 0.285 -> 0.29; DuckDB the double, 0.28).
    """
    profile = ("concat_ws(' | ', 'ua=' || coalesce(user_agent, ''), "
               "'max_tokens=' || coalesce(CAST(max_tokens AS STRING), ''), "
               "'temperature=' || coalesce(CAST(temperature AS STRING), ''), "
               "'logprobs=' || coalesce(CAST(logprobs AS STRING), '') || '/' "
               "|| coalesce(CAST(top_logprobs AS STRING), ''), "
               "'system=' || coalesce(system_hash, ''))")
    generic = (f"(coalesce(user_agent, '') = '' OR "
               f"{dialect.regexp(dialect.lower('user_agent', engine), GENERIC_UA_RE, engine)})")
    return f"""
    WITH g AS (SELECT account_id, user_agent, max_tokens,
                      round(temperature * 100) / 100 AS temperature,
                      logprobs, top_logprobs, system_hash, count(*) AS c
               FROM {source} GROUP BY ALL),
    p AS (SELECT account_id, {profile} AS key, {generic} AS generic, c FROM g)
    SELECT account_id, key, any_value(generic) AS generic, CAST(sum(c) AS BIGINT) AS c
    FROM p GROUP BY account_id, key
    """


def fingerprint_sql(min_share: float, generic_factor: float, profiles: str | None = None) -> str:
    """Key rows: the client profiles carrying at least ``min_share`` of an account's requests.

    ``profiles``: a relation of ``profile_sql`` rows (default: ``profile_sql('win')``); rows
    of one account and profile are summed first (several days). Profiles of stock-library
    user agents weigh ``generic_factor``.
    """
    profiles = profiles or f"({profile_sql('win')})"
    return f"""
    WITH a AS (SELECT account_id, key,
                      CASE WHEN any_value(generic) THEN {float(generic_factor)} ELSE 1.0 END
                          AS factor,
                      CAST(sum(c) AS BIGINT) AS c
               FROM {profiles} GROUP BY account_id, key)
    SELECT key, 0 AS slot, account_id, factor
    FROM (SELECT *, sum(c) OVER (PARTITION BY account_id) AS tot FROM a)
    WHERE c >= {float(min_share)} * tot
    """


def creation_sql(bucket_s: int, shift: bool, baseline_buckets: int = 36,
                 engine: str = "duckdb", nodes: str = "nodes") -> str:
    """Key rows: creation-time bucket per account of ``nodes`` (account_id, created_at),
    optionally shifted by half a bucket (DuckDB or Spark SQL, ``engine``: the same rows, factors
    bit for bit, on both).

    ``factor`` is how far the bucket's crowd exceeds its neighbourhood, beyond Poisson noise:
    (m - 1 - lam - 3 sqrt(lam)) / m, clipped to [0, 1], where m = accounts created in the
    bucket and lam the mean per bucket over ``baseline_buckets`` buckets either side. A batch
    of registrations in a quiet hour scores near 1; a few more sign-ups than usual in a busy
    hour score 0. The epoch is ``dialect.epoch_s`` (DuckDB's ``epoch``); every number is a
    double or an integer cast to one (a decimal literal would be divided as a decimal on
    Spark), so the rest is the same IEEE operations on both engines.
    """
    offset = int(bucket_s) // 2 if shift else 0
    tag = "b" if shift else "a"
    nb = int(baseline_buckets)
    epoch = dialect.epoch_s("created_at", engine)
    return f"""
    WITH c AS (SELECT account_id,
                      CAST(floor(({epoch} + {offset}) / {int(bucket_s)}) AS BIGINT) AS bucket
               FROM {nodes} WHERE created_at IS NOT NULL),
    b AS (SELECT bucket, count(*) AS m FROM c GROUP BY bucket),
    l AS (SELECT bucket, m, CAST(sum(m) OVER (ORDER BY bucket RANGE BETWEEN {nb} PRECEDING
                                               AND {nb} FOLLOWING) - m AS DOUBLE)
                            / CAST({2 * nb} AS DOUBLE) AS lam FROM b)
    SELECT '{tag}' || CAST(c.bucket AS STRING) AS key, 0 AS slot, c.account_id,
           greatest(CAST(0 AS DOUBLE), least(CAST(1 AS DOUBLE),
                    (l.m - 1 - l.lam - 3 * sqrt(l.lam)) / l.m)) AS factor
    FROM c JOIN l USING (bucket)
    """
