"""Deterministic, time-stratified sample of at most K distinct prompts per account-day.

Grain of the result: one row per (account_id, prompt_hash) kept. Method: an account-day's distinct
prompts (by ``prompt_hash``; text of the earliest occurrence) are put in arrival order (first
time seen, then hash) and cut into K equal-count strata; from each stratum the prompt with the
smallest ``md5(date|account|hash|seed)`` is kept. So the sample follows the account's activity
over the whole day, is the same on every run, and changes only when the day's data changes.
Accounts with at most K distinct prompts keep them all. Empty prompts are not sampled.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

#: The sampling query, one text for both engines. Slots: ``{source}`` (the table and the
#: engine's day filter), ``{bucket_filter}``, ``{idiv}`` (integer division: DuckDB ``//``, Spark
#: ``div``), ``{order}``, and the values ``{k}``, ``{date}``, ``{seed}``, ``{max_chars}``: DuckDB
#: binds them as parameters, Spark gets validated literals (:func:`sample_sql`). ``min_by``,
#: ``left``, ``md5(concat(...))`` and a filtered window are spelled alike in both.
_SQL = """
WITH day AS (
    SELECT account_id, prompt_hash, ts, prompt_text
    FROM {source}
      AND account_id IS NOT NULL AND prompt_hash IS NOT NULL
      AND prompt_text IS NOT NULL AND length(trim(prompt_text)) > 0{bucket_filter}
),
distinct_prompts AS (
    SELECT account_id, prompt_hash,
           min_by(left(prompt_text, {max_chars}), ts) AS prompt_text,
           min(ts) AS first_ts
    FROM day
    GROUP BY account_id, prompt_hash
),
ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY account_id ORDER BY first_ts, prompt_hash) - 1 AS pos,
           count(*) OVER (PARTITION BY account_id) AS n_distinct
    FROM distinct_prompts
),
strata AS (
    SELECT *,
           CASE WHEN n_distinct <= {k} THEN pos ELSE (pos * {k}) {idiv} n_distinct END AS stratum,
           CASE WHEN n_distinct <= {k} THEN ''
                ELSE md5(concat({date}, '|', account_id, '|', prompt_hash, '|', {seed})) END AS draw
    FROM ranked
),
picked AS (
    SELECT *, row_number() OVER (PARTITION BY account_id, stratum ORDER BY draw, prompt_hash) AS pick
    FROM strata
)
SELECT account_id, prompt_hash, prompt_text, first_ts, n_distinct FROM picked WHERE pick = 1{order}
"""


def sample_sql(engine: str, **values: object) -> str:
    """The sampling query for ``engine``: ``"duckdb"`` (parameters ``$k``, ``$date``, ``$seed``,
    ``$max_chars``, and ``$bucket``/``$n_buckets`` when ``bucket_filter`` is set; pass
    ``date_filter``) or ``"spark"`` (pass ``view``, ``date`` (YYYY-MM-DD), ``k``, ``seed``,
    ``max_chars``: written as literals)."""
    if engine == "duckdb":
        bucket = "\n      AND hash(account_id) % $n_buckets = $bucket" if values.get("bucket") else ""
        return _SQL.format(source=f"requests\n    WHERE {values['date_filter']}", bucket_filter=bucket,
                           idiv="//", order="\nORDER BY account_id, first_ts, prompt_hash",
                           k="$k", date="$date", seed="$seed", max_chars="$max_chars")
    if engine == "spark":
        day = str(values["date"])
        if len(day) != 10 or not day.replace("-", "").isdigit():
            raise ValueError(f"date: expected YYYY-MM-DD, got {day!r}")
        return _SQL.format(source=f"{values['view']}\n    WHERE TRUE", bucket_filter="",
                           idiv="div", order="", k=int(values["k"]), date=f"'{day}'",
                           seed=f"'{int(values['seed'])}'", max_chars=int(values["max_chars"]))
    raise ValueError(f"engine: expected 'duckdb' or 'spark', got {engine!r}")


def _date_filter(con: duckdb.DuckDBPyConnection) -> str:
    cols = {r[0] for r in con.execute("DESCRIBE requests").fetchall()}
    # The hive partition column prunes files; fall back to the timestamp's UTC day.
    if "date" in cols:
        return "CAST(date AS DATE) = CAST($date AS DATE)"
    return "CAST(ts AS DATE) = CAST($date AS DATE)"


def sample_prompts(con: duckdb.DuckDBPyConnection, date: str, k: int, seed: int = 0,
                   max_chars: int = 2000, bucket: tuple[int, int] | None = None) -> pa.Table:
    """The day's sample: account_id, prompt_hash, prompt_text (cut to max_chars), first_ts, n_distinct.

    Rows are ordered by account, then arrival; ``n_distinct`` is the account-day's number of
    distinct non-empty prompts before sampling. ``bucket = (b, n)``: only the accounts with
    ``hash(account_id) % n = b`` (each account's rows are the same as in the whole sample, so the
    n buckets together are the day's sample, each bounded by its share of the accounts).
    """
    sql = sample_sql("duckdb", date_filter=_date_filter(con), bucket=bucket is not None)
    params = {"date": date, "k": int(k), "seed": str(seed), "max_chars": int(max_chars)}
    if bucket is not None:
        params.update(bucket=int(bucket[0]), n_buckets=int(bucket[1]))
    return con.sql(sql, params=params).to_arrow_table()


def active_accounts(con: duckdb.DuckDBPyConnection, date: str) -> list[str]:
    """Every account with at least one request on ``date`` (sorted)."""
    sql = f"SELECT DISTINCT account_id FROM requests WHERE {_date_filter(con)} AND account_id IS NOT NULL"
    return sorted(r[0] for r in con.execute(sql, {"date": date}).fetchall())
