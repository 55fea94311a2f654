"""SQL spellings the clusters stage's per-day ingredients need, for DuckDB and Spark SQL.

The day cache (``detector.clusters.daycache``) is one SQL text per table for both engines
(``templates.sample_sql``, ``keys.profile_sql``, ``daycache.day_sql``), and so are the
creation-time key rows (``keys.creation_sql``); where the engines spell a computation
differently, the text takes the spelling from here. Every expression gives bit-identical values
on both engines (``tests/scale/test_cluster_daycache.py``, ``tests/clusters/test_keys_spark.py``):

- :func:`hash63`: a 60-bit non-negative integer from the first 15 hex digits of ``md5`` of a
  string's UTF-8 bytes (DuckDB's own ``hash`` differs between versions and has no Spark
  equivalent). DuckDB casts ``'0x' || hex`` to BIGINT; Spark uses ``conv(hex, 16, 10)``.
- :func:`slot`: ``floor(epoch microseconds / (seconds * 10^6))``, a double division of two exact
  integers, so both engines round alike (``epoch(ts)`` would divide a rounded double again).
- :func:`epoch_s`: DuckDB's ``epoch`` of a TIMESTAMPTZ (ICU's: the whole milliseconds, then the
  microseconds past them); Spark spells it from ``unix_micros`` as (us - us mod 1000) / 10^6 +
  (us mod 1000) / 10^6, two double divisions of exact integers and a sum (mod: ``pmod``).
- :func:`lower`: Java's ``toLowerCase`` maps 'İ' to two characters and a word-final 'Σ' to 'ς'
  where DuckDB gives 'i' and 'σ'; Spark first maps those two as DuckDB does.
- :func:`tokens` / :func:`shingles`: the first words of a text, split on spaces, and the sorted
  distinct :func:`hash63` of their word 3-grams (DuckDB list lambdas, Spark higher-order
  functions; Spark's ``sequence(1, 0)`` counts down, so texts under three words are guarded).
"""

from __future__ import annotations

ENGINES = ("duckdb", "spark")


def check(engine: str) -> str:
    if engine not in ENGINES:
        raise ValueError(f"SQL engine: expected one of {ENGINES}, got {engine!r}")
    return engine


def hash63(expr: str, engine: str = "duckdb") -> str:
    """BIGINT in [0, 2^60): the first 15 hex digits of md5(``expr``)."""
    if check(engine) == "duckdb":
        return f"CAST('0x' || substr(md5({expr}), 1, 15) AS BIGINT)"
    return f"CAST(conv(substr(md5({expr}), 1, 15), 16, 10) AS BIGINT)"


def slot(ts: str, seconds: int, engine: str = "duckdb") -> str:
    """BIGINT: the ``seconds``-long slot since the epoch that timestamp ``ts`` falls in."""
    micros = f"epoch_us({ts})" if check(engine) == "duckdb" else f"unix_micros({ts})"
    return f"CAST(floor({micros} / {int(seconds) * 1_000_000}) AS BIGINT)"


def epoch_s(ts: str, engine: str = "duckdb") -> str:
    """DOUBLE: seconds since the epoch of TIMESTAMPTZ ``ts``, DuckDB's ``epoch(ts)`` bit for bit."""
    if check(engine) == "duckdb":
        return f"epoch({ts})"
    us = f"unix_micros({ts})"
    return (f"(CAST({us} - pmod({us}, 1000) AS DOUBLE) / 1e6"
            f" + CAST(pmod({us}, 1000) AS DOUBLE) / 1e6)")


def lower(expr: str, engine: str = "duckdb") -> str:
    """Lower case, the same characters on both engines (DuckDB's mapping)."""
    if check(engine) == "duckdb":
        return f"lower({expr})"
    return f"lower(translate({expr}, 'İΣ', 'iσ'))"


def regexp(expr: str, pattern: str, engine: str = "duckdb") -> str:
    """True when ``pattern`` (no quote, no backslash: one literal for both) matches in ``expr``."""
    if "'" in pattern or "\\" in pattern:
        raise ValueError(f"regexp: pattern must hold no quote or backslash, got {pattern!r}")
    if check(engine) == "duckdb":
        return f"regexp_matches({expr}, '{pattern}')"
    return f"({expr} RLIKE '{pattern}')"


def tokens(text: str, max_tokens: int, engine: str = "duckdb") -> str:
    """The first ``max_tokens`` non-empty, space-separated words of lower-cased ``text``."""
    low = lower(text, engine)
    if check(engine) == "duckdb":
        return f"list_filter(string_split({low}, ' '), lambda x: x <> '')[1:{int(max_tokens)}]"
    return f"slice(filter(split({low}, ' '), x -> x <> ''), 1, {int(max_tokens)})"


def shingle(a: str, b: str, c: str, engine: str = "duckdb") -> str:
    """:func:`hash63` of the word 3-gram ``a b c``."""
    return hash63(f"{a} || ' ' || {b} || ' ' || {c}", engine)


def shingles(tok: str, engine: str = "duckdb") -> str:
    """Sorted distinct shingle hashes (BIGINT list) of word list ``tok`` (empty under 3 words)."""
    if check(engine) == "duckdb":
        sh = shingle(f"{tok}[i]", f"{tok}[i + 1]", f"{tok}[i + 2]", engine)
        return (f"list_sort(list_distinct(list_transform(range(1, len({tok}) - 1), "
                f"lambda i: {sh})))")
    sh = shingle(f"element_at({tok}, i)", f"element_at({tok}, i + 1)",
                 f"element_at({tok}, i + 2)", engine)
    return (f"CASE WHEN size({tok}) >= 3 THEN array_sort(array_distinct(transform("
            f"sequence(1, size({tok}) - 2), i -> {sh}))) ELSE CAST(array() AS ARRAY<BIGINT>) END")
