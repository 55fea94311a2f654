"""Typed edges of one look-back window: blocking keys in DuckDB, templates, timing, centroids.

``window_edges`` expects table ``nodes`` on the connection (the accounts active on the
clustered day, with ``created_at``) and view ``requests`` (the lake). It merges the window
from per-day cached ingredients (``daycache``, the default) or, with
``ClusterParams(window_cache=False)``, reads the window's raw requests into table ``win``;
both give the same edges. Grain of the result: one row per (src, dst, edge_type), src < dst.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from detector.clusters import (
    daycache,
    dialect,
    embedding_spark,
    keys,
    keys_spark,
    templates_spark,
    timing_spark,
)
from detector.clusters.centroids import embedding_frame, row_cosines
from detector.clusters.params import ClusterParams
from detector.clusters.templates import (
    scaffold_rows,
    scaffold_rows_from_samples,
    scaffold_sets,
    template_pairs,
)
from detector.clusters.timing import MinuteMatrix, lockstep_stats, timing_pairs
from detector.settings import Settings


@dataclass
class WindowContext:
    """What the window computed besides edges, reused for cluster features."""

    days: int
    scaffolds: dict[str, np.ndarray] = field(default_factory=dict)
    minutes: MinuteMatrix | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    #: with the template edges computed on Spark: the scaffolds of named accounts, read there
    #: (``scaffolds`` is then empty: the driver never holds every account's set)
    fetch_scaffolds: Callable[[list[str]], dict[str, np.ndarray]] | None = None
    #: with the timing edges computed on Spark: the minute counts of named accounts among the
    #: window's candidates, read there (``minutes`` is then None)
    fetch_minutes: Callable[[list[str]], MinuteMatrix] | None = None

    def scaffolds_of(self, accounts: list[str]) -> dict[str, np.ndarray]:
        """Scaffold sets of those of ``accounts`` that have one (possibly more accounts)."""
        if self.fetch_scaffolds is None:
            return self.scaffolds
        return self.fetch_scaffolds(accounts)

    def minutes_of(self, accounts: list[str]) -> MinuteMatrix | None:
        """Minute counts of those of ``accounts`` among the candidates (possibly more)."""
        if self.fetch_minutes is None:
            return self.minutes
        return self.fetch_minutes(accounts)


#: Columns the graph reads; materialised once per window (prompt text stays on disk).
WIN_COLUMNS = ("account_id", "ts", "client_ip", "ip_prefix", "user_agent", "payment_fingerprint",
               "max_tokens", "temperature", "logprobs", "top_logprobs", "system_hash")


def open_text(con: duckdb.DuckDBPyConnection, day: str, days: int) -> None:
    """(Re)create view ``win_text``: requests of ``nodes`` accounts in [day - days + 1, day]."""
    end = date.fromisoformat(day)
    start = end - timedelta(days=days - 1)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW win_text AS SELECT * FROM requests "
        f"WHERE CAST(date AS DATE) BETWEEN DATE '{start.isoformat()}' AND DATE '{end.isoformat()}' "
        "AND account_id IN (SELECT account_id FROM nodes)")


def open_window(con: duckdb.DuckDBPyConnection, day: str, days: int) -> None:
    """(Re)create view ``win_text`` (requests of ``nodes`` accounts in [day - days + 1, day])
    and table ``win`` (the same rows, only ``WIN_COLUMNS``), read from Parquet once."""
    open_text(con, day, days)
    con.execute(f"CREATE OR REPLACE TEMP TABLE win AS SELECT {', '.join(WIN_COLUMNS)} "
                "FROM win_text")


def key_specs(p: ClusterParams, tables: dict[str, str] | None = None,
              ) -> list[tuple[str, str, dict[str, Any]]]:
    """(edge type, key SQL, pairing arguments) of the payment, address, prefix and
    client-fingerprint families of the open window: over the raw table ``win`` (``tables``
    None) or over the cached key tables named by ``tables`` (payment, ip, prefix, profile:
    DuckDB's ``win_*`` tables or ``keys_spark.VIEWS``). ``star``: ``keys.star_pairs``."""
    floor = p.min_edge_weight
    if tables is not None:
        pay = keys.cached_payment_sql(tables["payment"])
        ip = keys.cached_address_sql(tables["ip"], 1.0)
        prefix = keys.cached_address_sql(tables["prefix"], p.prefix_factor)
        fp = keys.fingerprint_sql(p.fingerprint_min_share, p.generic_ua_factor,
                                  tables["profile"])
    else:
        pay = keys.payment_sql()
        ip = keys.address_sql("client_ip", p.ip_slot_s, 1.0)
        prefix = keys.address_sql("ip_prefix", p.ip_slot_s, p.prefix_factor)
        fp = keys.fingerprint_sql(p.fingerprint_min_share, p.generic_ua_factor)
    return [
        ("payment", pay, {"weigh": "one"}),
        ("payment", pay, {"star": True}),
        ("ip", ip, {"normalize": True, "min_weight": floor}),
        ("prefix", prefix, {"normalize": True, "min_weight": floor}),
        ("fingerprint", fp, {"min_weight": floor}),
    ]


#: DuckDB's tables of the cached key tables of the open window (``daycache.open_window``).
WIN_KEY_TABLES = {name: f"win_{name}" for name in ("payment", "ip", "prefix", "profile")}


def key_edges(con: duckdb.DuckDBPyConnection, p: ClusterParams,
              cached: bool = False, spark: Any = None,
              scratch: Settings | None = None) -> list[pd.DataFrame]:
    """Payment, address, prefix and client-fingerprint edges of the open window (from the
    raw table ``win``, or with ``cached`` from the ``win_*`` tables and views of ``daycache``); with
    ``spark`` (a SparkSession) the key rows are read here and the pairing runs on the cluster
    (``keys.key_pairs``, the rows sent as a scratch file in the cluster cache of ``scratch``,
    the home's settings; with the day caches on Spark, ``keys_spark.key_edges`` instead)."""
    out = []
    for edge_type, sql, kw in key_specs(p, WIN_KEY_TABLES if cached else None):
        kw = dict(kw)
        if kw.pop("star", False):
            out.append(keys.star_pairs(con, edge_type, sql, p.max_key_accounts, spark=spark,
                                       scratch=scratch))
        else:
            out.append(keys.key_pairs(con, edge_type, sql, p.max_key_accounts, spark=spark,
                                      scratch=scratch, **kw))
    return out


def creation_edges(con: duckdb.DuckDBPyConnection, p: ClusterParams, spark: Any = None,
                   settings: Settings | None = None, day: str | None = None) -> pd.DataFrame:
    """Accounts created close together (same bucket, or same half-shifted bucket): the key rows
    from table ``nodes``; with ``spark``, ``settings`` and ``day`` built on the cluster from the
    day's request files instead (``keys_spark.creation_edges``: no account row passes through
    the driver)."""
    if spark is not None and settings is not None and day is not None:
        parts = keys_spark.creation_edges(spark, settings, day, p)
    else:
        parts = [keys.key_pairs(con, "creation", keys.creation_sql(p.creation_bucket_s, shift),
                                p.max_key_accounts, weigh="factor",
                                min_weight=p.min_edge_weight, spark=spark)
                 for shift in (False, True)]
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=keys.PAIR_COLUMNS)
    if df.empty:
        return df
    # ties (both buckets equally strong) keep the unshifted bucket: the same row every run
    return (df.sort_values(["weight", "evidence"], ascending=[False, True], kind="stable")
            .drop_duplicates(["src", "dst"]).reset_index(drop=True))


def minute_matrix(con: duckdb.DuckDBPyConnection, accounts: list[str], day: str,
                  days: int, cached: bool = False) -> MinuteMatrix:
    """Per-minute counts of ``accounts`` over the open window (raw ``win`` or, with
    ``cached``, the per-day counts of view ``win_minutes``, summed)."""
    con.register("_timed", pd.DataFrame({"account_id": pd.Series(accounts, dtype=object)}))
    if cached:
        sql = ("SELECT account_id, minute, CAST(sum(c) AS BIGINT) AS c FROM win_minutes "
               "WHERE account_id IN (SELECT CAST(account_id AS VARCHAR) FROM _timed) GROUP BY ALL")
    else:
        sql = (f"SELECT account_id, {dialect.slot('ts', 60)} AS minute, count(*) AS c "
               "FROM win WHERE account_id IN (SELECT CAST(account_id AS VARCHAR) FROM _timed) "
               "GROUP BY ALL")
    counts = con.execute(sql).df()
    con.unregister("_timed")
    end = date.fromisoformat(day) + timedelta(days=1)
    start_minute = int((pd.Timestamp(end, tz="UTC").timestamp()) // 60) - days * 1440
    return MinuteMatrix.from_counts(counts, start_minute, days * 1440)


def _pair_cosines(centroids: dict[str, np.ndarray], src: list[str], dst: list[str],
                  chunk: int = 8192) -> np.ndarray:
    """Cosine of the centroids of src[k] and dst[k], ``chunk`` pairs at a time: the gathered
    rows of every candidate pair at once grow with pairs (1 KB per side at 256 dimensions)."""
    out = []
    for k in range(0, len(src), chunk):
        a = np.vstack([centroids[s] for s in src[k:k + chunk]])
        b = np.vstack([centroids[d] for d in dst[k:k + chunk]])
        out.append(row_cosines(a, b))
    return np.concatenate(out)


def embedding_edges(centroids: dict[str, np.ndarray], pairs: pd.DataFrame,
                    min_cos: float) -> pd.DataFrame:
    """Pairs whose centroid cosine >= ``min_cos``; weight rises linearly from 0 there to 1."""
    if not centroids or pairs.empty:
        return pd.DataFrame(columns=keys.PAIR_COLUMNS)
    ok = pairs["src"].isin(centroids.keys()) & pairs["dst"].isin(centroids.keys())
    sub = pairs[ok]
    if sub.empty:
        return pd.DataFrame(columns=keys.PAIR_COLUMNS)
    return embedding_frame(sub, _pair_cosines(centroids, sub["src"].tolist(),
                                              sub["dst"].tolist()), min_cos)


def verify_candidates(edges: pd.DataFrame, min_weight: float) -> pd.DataFrame:
    """Pairs worth the timing and centroid checks: some key evidence already counts.

    Timing and centroid similarity only corroborate; a pair with no other family at
    ``min_weight`` could never be linked, so it is not checked (this bounds the cost).
    """
    strong = edges[edges["weight"] >= min_weight]
    return strong[["src", "dst"]].drop_duplicates().reset_index(drop=True)


class _Clock:
    """Seconds per named step, kept in the window context for the run summary."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into, self.t = into, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.into[name] = round(self.into.get(name, 0.0) + now - self.t, 2)
        self.t = now


def _template_edges(con: duckdb.DuckDBPyConnection, p: ClusterParams, ctx: WindowContext,
                    clock: _Clock, day: str, settings: Settings | None,
                    spark: Any) -> pd.DataFrame:
    """Template edges of the open window: on the cluster with ``spark`` and the day caches
    (``settings``; ``templates_spark``), else on the driver from the cached samples or, without
    ``settings``, the raw prompts; the driver keeps every account's scaffold in ``ctx``."""
    if settings is not None and spark is not None:
        out, ctx.fetch_scaffolds = templates_spark.template_edges(spark, settings, day,
                                                                  ctx.days, p)
        clock.lap("template_lsh")
        return out
    if settings is not None:
        rows = scaffold_rows_from_samples(con, "win_scaffold", p.template_sample,
                                          p.max_key_accounts)
    else:
        rows = scaffold_rows(con, "win_text", p.template_sample, p.template_max_chars,
                             p.max_key_accounts)
    ctx.scaffolds = scaffold_sets(rows)
    clock.lap("shingles")
    out = template_pairs(ctx.scaffolds, p.template_threshold, p.template_num_perm, p.seed,
                         p.max_key_accounts)
    clock.lap("template_lsh")
    return out


def _timing_edges(con: duckdb.DuckDBPyConnection, p: ClusterParams, ctx: WindowContext,
                  clock: _Clock, day: str, cands: pd.DataFrame, settings: Settings | None,
                  spark: Any) -> pd.DataFrame:
    """Timing edges of the candidate pairs: on the cluster with ``spark`` and the day caches
    (``settings``; ``timing_spark``), else on the driver from the candidates' minute counts,
    which it keeps in ``ctx``."""
    if settings is not None and spark is not None:
        out, ctx.fetch_minutes = timing_spark.timing_edges(spark, settings, day, ctx.days,
                                                           cands, p)
        return out
    accounts = sorted(set(cands["src"]) | set(cands["dst"]))
    ctx.minutes = minute_matrix(con, accounts, day, ctx.days, settings is not None)
    clock.lap("minutes")
    lock = lockstep_stats(ctx.minutes, cands, p.lockstep_min_events, p.lockstep_max_events,
                          p.lockstep_max_lead)
    return timing_pairs(ctx.minutes, cands, p.timing_min_corr, p.timing_min_minutes, lock,
                        p.lockstep_max_lead)


def _embedding_edges(centroids: dict[str, np.ndarray], cands: pd.DataFrame, p: ClusterParams,
                     day: str, settings: Settings | None, spark: Any,
                     mean: np.ndarray | float | None) -> pd.DataFrame:
    """Embedding edges of the candidate pairs: on the cluster with ``spark`` and ``settings``,
    centred on ``mean`` (``embedding_spark.centroid_mean``: None when the day has no stored
    centroid; the executors read the stored centroids), else on the driver from
    ``centroids``."""
    if settings is not None and spark is not None:
        if mean is None:  # the driver's rule: no stored centroids, no edges
            return pd.DataFrame(columns=keys.PAIR_COLUMNS)
        return embedding_spark.embedding_edges(spark, settings, day, cands, mean,
                                               p.embedding_min_cos)
    return embedding_edges(centroids, cands, p.embedding_min_cos)


def window_edges(con: duckdb.DuckDBPyConnection, p: ClusterParams, day: str, days: int,
                 centroids: dict[str, np.ndarray], settings: Settings | None = None,
                 spark: Any = None, centroid_mean: np.ndarray | float | None = None,
                 ) -> tuple[pd.DataFrame, WindowContext]:
    """Every typed edge of the window ending on ``day`` and lasting ``days`` days.

    ``centroids`` are the day's unit centred centroids (``centroids.centroid_table``); with
    ``spark`` and ``settings`` the centroid cosines are computed on the cluster from the
    stored centroids instead, centred on ``centroid_mean`` (``embedding_spark.centroid_mean``;
    None: no stored centroid, no edges) and ``centroids`` is not read.

    With ``settings`` and ``p.window_cache`` the window is merged from per-day cached
    ingredients (``daycache``; missing or stale days are built first); otherwise its raw
    requests are read and shingled. Both give the same edges. View ``win_text`` (the raw
    requests of the window) is left open either way (the sweep search reads it).
    """
    ctx = WindowContext(days=days)
    clock = _Clock(ctx.seconds)
    cached = settings is not None and p.window_cache
    if cached:
        open_text(con, day, days)
        built = daycache.open_window(con, settings, day, days, p, spark)
        ctx.counts["cache_days_built"] = len(built)
        ctx.seconds["cache_build"] = round(sum(built.values()), 2)
        clock.lap("read")
        ctx.seconds["read"] = round(ctx.seconds["read"] - ctx.seconds["cache_build"], 2)
    else:
        open_window(con, day, days)
        clock.lap("read")
    if cached and spark is not None:  # key rows built and paired on the cluster
        parts = keys_spark.key_edges(spark, settings, day, days, p,
                                     key_specs(p, keys_spark.VIEWS))
    else:
        parts = key_edges(con, p, cached, spark, settings)
    clock.lap("keys")
    parts.append(_template_edges(con, p, ctx, clock, day, settings if cached else None, spark))
    if days == 1:
        parts.append(creation_edges(con, p, spark, settings, day))
        clock.lap("creation")
    parts = [x for x in parts if not x.empty]
    edges = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=keys.PAIR_COLUMNS)
    parts.clear()  # the typed edges are held once, not also as their parts
    cands = verify_candidates(edges, p.family_min_weight)
    extra = [_timing_edges(con, p, ctx, clock, day, cands, settings if cached else None, spark),
             _embedding_edges(centroids, cands, p, day, settings, spark, centroid_mean)]
    clock.lap("timing_embedding")
    extra = [x for x in extra if not x.empty]
    if extra:
        edges = pd.concat([edges, *extra], ignore_index=True)
    edges["window"] = f"{days}d"
    if cached:
        daycache.close_window(con, spark)
    ctx.counts.update({"typed_edges": int(len(edges)), "verified_pairs": int(len(cands))})
    return edges, ctx
