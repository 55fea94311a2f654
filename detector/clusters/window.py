"""Typed edges of one look-back window: blocking keys in DuckDB, templates, timing, centroids.

``window_edges`` expects two DuckDB objects on the connection: table ``nodes`` (the accounts
active on the clustered day, with ``created_at``) and view ``win`` (their requests inside the
window). Grain of the result: one row per (src, dst, edge_type), src < dst.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import orjson
import pandas as pd

from detector.clusters import keys
from detector.clusters.params import ClusterParams
from detector.clusters.templates import scaffold_rows, scaffold_sets, template_pairs
from detector.clusters.timing import MinuteMatrix, lockstep_stats, timing_pairs


@dataclass
class WindowContext:
    """What the window computed besides edges, reused for cluster features."""

    days: int
    scaffolds: dict[str, np.ndarray] = field(default_factory=dict)
    minutes: MinuteMatrix | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


#: Columns the graph reads; materialised once per window (prompt text stays on disk).
WIN_COLUMNS = ("account_id", "ts", "client_ip", "ip_prefix", "user_agent", "payment_fingerprint",
               "max_tokens", "temperature", "logprobs", "top_logprobs", "system_hash")


def open_window(con: duckdb.DuckDBPyConnection, day: str, days: int) -> None:
    """(Re)create view ``win_text`` (requests of ``nodes`` accounts in [day - days + 1, day])
    and table ``win`` (the same rows, only ``WIN_COLUMNS``), read from Parquet once."""
    end = date.fromisoformat(day)
    start = end - timedelta(days=days - 1)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW win_text AS SELECT * FROM requests "
        f"WHERE CAST(date AS DATE) BETWEEN DATE '{start.isoformat()}' AND DATE '{end.isoformat()}' "
        "AND account_id IN (SELECT account_id FROM nodes)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE win AS SELECT {', '.join(WIN_COLUMNS)} "
                "FROM win_text")


def key_edges(con: duckdb.DuckDBPyConnection, p: ClusterParams) -> list[pd.DataFrame]:
    """Payment, address, prefix and client-fingerprint edges of the open window."""
    cap, floor = p.max_key_accounts, p.min_edge_weight
    return [
        keys.key_pairs(con, "payment", keys.payment_sql(), cap, weigh="one"),
        keys.star_pairs(con, "payment", keys.payment_sql(), cap),
        keys.key_pairs(con, "ip", keys.address_sql("client_ip", p.ip_slot_s, 1.0), cap,
                       normalize=True, min_weight=floor),
        keys.key_pairs(con, "prefix", keys.address_sql("ip_prefix", p.ip_slot_s,
                                                       p.prefix_factor), cap, normalize=True,
                       min_weight=floor),
        keys.key_pairs(con, "fingerprint",
                       keys.fingerprint_sql(p.fingerprint_min_share, p.generic_ua_factor), cap,
                       min_weight=floor),
    ]


def creation_edges(con: duckdb.DuckDBPyConnection, p: ClusterParams) -> pd.DataFrame:
    """Accounts created close together (same bucket, or same half-shifted bucket)."""
    parts = [keys.key_pairs(con, "creation", keys.creation_sql(p.creation_bucket_s, shift),
                            p.max_key_accounts, weigh="factor", min_weight=p.min_edge_weight)
             for shift in (False, True)]
    df = pd.concat(parts, ignore_index=True)
    if df.empty:
        return df
    return (df.sort_values("weight", ascending=False).drop_duplicates(["src", "dst"])
            .reset_index(drop=True))


def minute_matrix(con: duckdb.DuckDBPyConnection, accounts: list[str], day: str,
                  days: int) -> MinuteMatrix:
    """Per-minute counts of ``accounts`` over the open window."""
    con.register("_timed", pd.DataFrame({"account_id": pd.Series(accounts, dtype=object)}))
    counts = con.execute(
        "SELECT account_id, CAST(floor(epoch(ts) / 60) AS BIGINT) AS minute, count(*) AS c FROM win "
        "WHERE account_id IN (SELECT CAST(account_id AS VARCHAR) FROM _timed) GROUP BY ALL").df()
    con.unregister("_timed")
    end = date.fromisoformat(day) + timedelta(days=1)
    start_minute = int((pd.Timestamp(end, tz="UTC").timestamp()) // 60) - days * 1440
    return MinuteMatrix.from_counts(counts, start_minute, days * 1440)


def embedding_edges(centroids: dict[str, np.ndarray], pairs: pd.DataFrame,
                    min_cos: float) -> pd.DataFrame:
    """Pairs whose centroid cosine >= ``min_cos``; weight rises linearly from 0 there to 1."""
    if not centroids or pairs.empty:
        return pd.DataFrame(columns=keys.PAIR_COLUMNS)
    ok = pairs["src"].isin(centroids.keys()) & pairs["dst"].isin(centroids.keys())
    sub = pairs[ok]
    if sub.empty:
        return pd.DataFrame(columns=keys.PAIR_COLUMNS)
    a = np.vstack([centroids[s] for s in sub["src"]])
    b = np.vstack([centroids[d] for d in sub["dst"]])
    cos = (a * b).sum(axis=1) / np.maximum(
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    sel = cos >= min_cos
    out = sub.loc[sel, ["src", "dst"]].copy()
    out["edge_type"] = "embedding"
    out["weight"] = ((cos[sel] - min_cos) / max(1.0 - min_cos, 1e-9)).clip(0, 1)
    out["evidence"] = [orjson.dumps({"centroid_cos": round(float(c), 4)}).decode()
                       for c in cos[sel]]
    return out[keys.PAIR_COLUMNS].reset_index(drop=True)


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


def window_edges(con: duckdb.DuckDBPyConnection, p: ClusterParams, day: str, days: int,
                 centroids: dict[str, np.ndarray]) -> tuple[pd.DataFrame, WindowContext]:
    """Every typed edge of the window ending on ``day`` and lasting ``days`` days."""
    ctx = WindowContext(days=days)
    clock = _Clock(ctx.seconds)
    open_window(con, day, days)
    clock.lap("read")
    parts = key_edges(con, p)
    clock.lap("keys")
    ctx.scaffolds = scaffold_sets(scaffold_rows(con, "win_text", p.template_sample,
                                                p.template_max_chars,
                                                p.max_key_accounts))
    clock.lap("shingles")
    parts.append(template_pairs(ctx.scaffolds, p.template_threshold, p.template_num_perm,
                                p.seed, p.max_key_accounts))
    clock.lap("template_lsh")
    if days == 1:
        parts.append(creation_edges(con, p))
        clock.lap("creation")
    parts = [x for x in parts if not x.empty]
    edges = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=keys.PAIR_COLUMNS)
    cands = verify_candidates(edges, p.family_min_weight)
    accounts = sorted(set(cands["src"]) | set(cands["dst"]))
    ctx.minutes = minute_matrix(con, accounts, day, days)
    clock.lap("minutes")
    lock = lockstep_stats(ctx.minutes, cands, p.lockstep_min_events, p.lockstep_max_events,
                          p.lockstep_max_lead)
    extra = [timing_pairs(ctx.minutes, cands, p.timing_min_corr, p.timing_min_minutes, lock,
                          p.lockstep_max_lead),
             embedding_edges(centroids, cands, p.embedding_min_cos)]
    clock.lap("timing_embedding")
    extra = [x for x in extra if not x.empty]
    if extra:
        edges = pd.concat([edges, *extra], ignore_index=True)
    edges["window"] = f"{days}d"
    ctx.counts = {"typed_edges": int(len(edges)), "verified_pairs": int(len(cands))}
    return edges, ctx
