"""Linking keys of an account-day for returning actors (:mod:`detector.decide.returning`):
payment fingerprint, client profile, network prefix, system prompt and prompt-template scaffold,
each as a keyed hash (the index never holds a raw value).

:func:`keys_sql` is one SQL text for DuckDB and Spark (where they spell a computation
differently, the text takes the engine's spelling: :func:`round2`, the hash); :class:`DuckKeys`
reads the lake with DuckDB (:func:`day_keys`), ``returning_spark.SparkKeys`` on the executors.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from detector.clusters import dialect
from detector.clusters.keys import GENERIC_UA_RE
from detector.clusters.templates import sample_sql, scaffold_rows

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
    keys = con.execute(keys_sql("_rt_src", secret)).df()
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


def keys_sql(source: str, secret: str, engine: str = "duckdb") -> str:
    """SQL (DuckDB or Spark, ``engine``; the same rows on both): the payment, prefix, client
    and system keys (account_id, key_type, key) of the requests in ``source``."""
    text = "VARCHAR" if dialect.check(engine) == "duckdb" else "STRING"
    client = (f"concat_ws('|', user_agent, 'max_tokens=' || coalesce(CAST(max_tokens AS {text}), ''), "
              f"'temperature=' || coalesce(CAST({round2('temperature', engine)} AS {text}), ''), "
              f"'logprobs=' || coalesce(CAST(logprobs AS {text}), '') || '/' "
              f"|| coalesce(CAST(top_logprobs AS {text}), ''), "
              f"'n=' || coalesce(CAST(n AS {text}), ''), "
              f"'stream=' || coalesce(CAST(stream AS {text}), ''), "
              "'format=' || coalesce(response_format, ''))")
    generic = dialect.regexp(dialect.lower("user_agent", engine), GENERIC_UA_RE, engine)
    return f"""
    WITH tot AS (SELECT account_id, count(*) AS t FROM {source} GROUP BY account_id),
    dominant AS (
        SELECT account_id, key_type, raw FROM (
            SELECT account_id, 'client' AS key_type, {client} AS raw, count(*) AS c FROM {source}
            WHERE coalesce(user_agent, '') <> ''
              AND NOT {generic}
            GROUP BY ALL
            UNION ALL
            SELECT account_id, 'system', system_hash, count(*) FROM {source}
            WHERE coalesce(system_hash, '') <> '' GROUP BY ALL)
        JOIN tot USING (account_id) WHERE c >= {MIN_SHARE} * t),
    r AS (SELECT DISTINCT account_id, 'payment' AS key_type, payment_fingerprint AS raw
          FROM {source} WHERE coalesce(payment_fingerprint, '') <> ''
          UNION SELECT DISTINCT account_id, 'prefix', ip_prefix FROM {source}
          WHERE coalesce(ip_prefix, '') <> ''
          UNION SELECT * FROM dominant)
    SELECT account_id, key_type, {_hash_sql('raw', secret, engine=engine)} AS key FROM r
    """


def shingle_keys_sql(source: str, secret: str, engine: str = "spark") -> str:
    """SQL: the template keys (account_id, 'shingle', key) of the requests in ``source``, the
    rows of ``scaffold_rows`` (one text for both engines: ``templates.sample_sql``'s sample,
    a shingle in two or more sampled prompts, popular shingles dropped) of the accounts with
    at least ``TEMPLATE_MIN_SHINGLES``; :func:`day_keys` computes the same rows on DuckDB."""
    text = "VARCHAR" if dialect.check(engine) == "duckdb" else "STRING"
    sample = sample_sql(source, TEMPLATE_SAMPLE, TEMPLATE_MAX_CHARS, engine=engine)
    return f"""
    WITH s AS ({sample}),
    x AS (SELECT account_id, prompt_hash, explode(shingles) AS sh FROM s),
    sc AS (SELECT account_id, sh FROM x GROUP BY account_id, sh HAVING count(*) >= 2),
    df AS (SELECT sh FROM sc GROUP BY sh HAVING count(*) <= {int(TEMPLATE_MAX_ACCOUNTS)}),
    kept AS (SELECT sc.account_id, sc.sh FROM sc JOIN df ON sc.sh = df.sh),
    ok AS (SELECT account_id FROM kept GROUP BY account_id
           HAVING count(*) >= {int(TEMPLATE_MIN_SHINGLES)})
    SELECT kept.account_id, 'shingle' AS key_type,
           {_hash_sql(f'CAST(kept.sh AS {text})', secret, "'shingle'", engine)} AS key
    FROM kept JOIN ok ON kept.account_id = ok.account_id
    """


def round2(expr: str, engine: str = "duckdb") -> str:
    """SQL: DOUBLE ``expr`` rounded to two decimals as DuckDB's ``round(x, 2)`` does: the exact
    binary value times 100 rounded half away from zero, divided by 100. Spark's ``round(x, 2)``
    rounds the shortest decimal text instead (0.015 -> 0.02, DuckDB 0.01) and ``round(x * 100)``
    a rounded product, so Spark's spelling decides on the exact product: ``p + e`` with
    ``p = |x| * 100`` and ``e`` its rounding error (Dekker's two-product; 100 needs no split),
    compared with the midpoints around ``floor(p + 0.5)``."""
    if dialect.check(engine) == "duckdb":
        return f"round({expr}, 2)"
    a = f"abs({expr})"
    hi = f"({a} * 134217729.0D - ({a} * 134217729.0D - {a}))"
    err = f"(({hi} * 100.0D - {a} * 100.0D) + ({a} - {hi}) * 100.0D)"
    p, j = f"({a} * 100.0D)", f"floor({a} * 100.0D + 0.5D)"
    k = (f"(CASE WHEN ({p} - ({j} - 0.5D)) + {err} < 0 THEN {j} - 1 "
         f"WHEN ({p} - ({j} + 0.5D)) + {err} >= 0 THEN {j} + 1 ELSE {j} END)")
    return (f"(CASE WHEN isnan({expr}) OR {a} = double('infinity') THEN {expr} "
            f"WHEN {expr} < 0 THEN -(CAST({k} AS DOUBLE) / 100.0D) "
            f"ELSE CAST({k} AS DOUBLE) / 100.0D END)")


def _hash_sql(expr: str, secret: str, key_type: str = "key_type", engine: str = "duckdb") -> str:
    """Keyed hash (32 hex) of ``expr`` for its key type: the secret comes first."""
    if dialect.check(engine) == "spark":
        return f"left(sha2('{secret}|' || {key_type} || '|' || {expr}, 256), 32)"
    return f"left(sha256('{secret}|' || {key_type} || '|' || {expr}), 32)"


class DuckKeys:
    """The lake reads of returning-actor linking (:mod:`detector.decide.returning`) on DuckDB,
    over the views of ``detector.lake.db.connect``; ``SparkKeys``
    (:mod:`detector.decide.returning_spark`) is the same on the executors. ``con`` also runs
    the linking queries over the keys read (small: per account, not per request)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def active(self, day: str, accounts: set[str]) -> set[str]:
        """Those of ``accounts`` with a request on ``day``."""
        if not accounts:
            return set()
        con = self.con
        con.register("_rt_q", pd.DataFrame({"account_id": pd.Series(sorted(accounts),
                                                                     dtype=object)}))
        rows = con.execute(f"SELECT DISTINCT account_id FROM requests WHERE CAST(date AS DATE) = "
                           f"DATE '{date.fromisoformat(day).isoformat()}' "
                           "AND account_id IN (SELECT account_id FROM _rt_q)").fetchall()
        con.unregister("_rt_q")
        return {r[0] for r in rows}

    def days_of(self, accounts: set[str], start: str, end: str) -> list[tuple[str, list[str]]]:
        """(day, those of ``accounts`` active that day) for the lake days in [start, end)."""
        con = self.con
        con.register("_rt_q", pd.DataFrame({"account_id": pd.Series(sorted(accounts),
                                                                     dtype=object)}))
        days = con.execute(f"""SELECT CAST(date AS DATE) AS d, list(DISTINCT account_id) AS a
                               FROM requests WHERE CAST(date AS DATE) >= DATE '{start}'
                               AND CAST(date AS DATE) < DATE '{end}'
                               AND account_id IN (SELECT account_id FROM _rt_q) GROUP BY d
                               """).fetchall()
        con.unregister("_rt_q")
        return [(d.isoformat(), list(a)) for d, a in days]

    def keys(self, day: str, secret: str, accounts: list[str]) -> pd.DataFrame:
        """:func:`day_keys` of ``accounts`` on ``day``."""
        return day_keys(self.con, day, secret, accounts)

    def today(self, day: str, secret: str, idx: pd.DataFrame, max_key_accounts: int,
              payment_max_accounts: int) -> pd.DataFrame:
        """The keys of every account active on ``day`` (:func:`day_keys`); the caps and the
        index rows ``idx`` matter to ``SparkKeys.today`` only, which returns fewer rows."""
        return day_keys(self.con, day, secret)
