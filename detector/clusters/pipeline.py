"""``compute(settings, dates)``: account graph, clusters and cluster features per day.

For each day D (oldest first, so ids can carry over): the nodes are the accounts active on D;
typed edges come from each look-back window ending on D (default 1 and 7 days); the strongest
edge per pair and type counts; pairs with corroborated evidence are linked; linked components,
split by Louvain, are the clusters; ids carry over from the previous clustered day.
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import orjson
import pandas as pd

from detector.clusters import (
    daycache,
    embedding_spark,
    nodes_spark,
    scoring_spark,
    spark_sql,
    store,
    sweeps,
)
from detector.clusters.centroids import centroid_table
from detector.clusters.features import FEATURE_NAMES, account_features, cluster_table, volume_table
from detector.clusters.graph import build_graph, communities
from detector.clusters.ids import assign_ids
from detector.clusters.params import FAMILIES, ClusterParams
from detector.clusters.scoring import add_set_links, best_edges, score_pairs
from detector.clusters.window import WindowContext, window_edges
from detector.errors import InputError
from detector.lake.db import connect, lake_dates
from detector.lake.io import write_bytes_atomic, write_parquet_atomic
from detector.settings import Settings

LOG = logging.getLogger(__name__)
#: DuckDB buffer memory cap of the stage's connection; above it DuckDB spills to disk.
DUCKDB_MEMORY_LIMIT = "1GB"


def compute(settings: Settings, dates: list[str], params: ClusterParams | None = None) -> None:
    """Cluster every day of ``dates`` (YYYY-MM-DD) and write its tables (see ``store``)."""
    params = params or settings.clusters
    available = set(lake_dates(settings))
    for day in sorted(set(dates)):
        try:
            date.fromisoformat(day)
        except ValueError:
            raise InputError(f"clusters: date {day!r} is not YYYY-MM-DD") from None
        if day not in available:
            raise InputError(f"clusters: no requests in the lake for {day} "
                             f"({settings.requests_dir})")
        compute_day(settings, day, params, available)
    latest = max(available) if available else None
    if params.window_cache and latest in dates:  # caches no window of the latest day reads
        keep = date.fromisoformat(latest) - timedelta(days=max(params.windows) - 1)
        daycache.prune(settings, keep.isoformat())


def _nodes(con: duckdb.DuckDBPyConnection, day: str, fetch: bool = True) -> pd.DataFrame | None:
    """View ``day`` (the day's requests) and table ``nodes`` (one row per active account);
    returns the table (None without ``fetch``)."""
    con.execute("CREATE OR REPLACE TEMP VIEW day AS SELECT * FROM requests "
                f"WHERE CAST(date AS DATE) = DATE '{day}'")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE nodes AS
        SELECT account_id, count(*) AS n_requests, count(DISTINCT prompt_hash) AS n_prompts,
               min(account_created_at) AS created_at
        FROM day WHERE account_id IS NOT NULL GROUP BY account_id""")
    return con.execute("SELECT * FROM nodes").df() if fetch else None


def _spark_nodes(con: duckdb.DuckDBPyConnection, day: str, params: ClusterParams) -> None:
    """DuckDB's ``nodes`` relation with ``engine = "spark"`` (the node table itself is built on
    the executors, ``nodes_spark``): the table (and view ``day``), built here, only where a
    driver path reads it (the raw window without the day caches, the sweep search's
    ``win_text``); else a view that fails when read, so the views over it (``win_text``,
    ``daycache.open_window``'s) bind and no driver query reads accounts unnoticed."""
    if not params.window_cache or params.sweep_enabled:
        _nodes(con, day, fetch=False)
        return
    con.execute("""
        CREATE OR REPLACE TEMP VIEW nodes AS
        SELECT error('clusters: DuckDB table nodes is not built with engine = spark (the '
                     || 'node table is on the executors: nodes_spark)')::VARCHAR AS account_id,
               NULL::BIGINT AS n_requests, NULL::BIGINT AS n_prompts,
               NULL::TIMESTAMPTZ AS created_at
        FROM range(1)""")


def _windows(day: str, params: ClusterParams, available: set[str]) -> list[int]:
    """Windows worth computing: a longer one only if it reaches days a shorter one lacks."""
    d = date.fromisoformat(day)
    out: list[int] = []
    covered = -1
    for w in sorted(set(int(x) for x in params.windows)):
        span = sum((d - timedelta(days=k)).isoformat() in available for k in range(w))
        if span > covered:
            out.append(w)
            covered = span
    return out


def _previous(settings: Settings, day: str, params: ClusterParams) -> tuple[str | None, pd.DataFrame | None]:
    d = date.fromisoformat(day)
    for k in range(1, params.carry_lookback_days + 1):
        prev = (d - timedelta(days=k)).isoformat()
        members = store.read(settings, prev, "members")
        if members is not None:
            return prev, members
    return None, None


def compute_day(settings: Settings, day: str, params: ClusterParams,
                available: set[str] | None = None) -> dict[str, Any]:
    """Cluster one day; returns a summary (counts and seconds per step), also stored as JSON.

    The DuckDB connection is capped at ``DUCKDB_MEMORY_LIMIT`` and spills to a temporary
    folder removed afterwards, so the day cache, key pairs and scaffold queries hold a bounded
    share of memory however many requests and accounts the day has. A day with a query that
    needs more than the cap and cannot spill (DuckDB's out-of-memory error) is run again
    without it (DuckDB's default, 80% of RAM), with a warning naming the day: nothing of the
    failed attempt is kept but complete day caches."""
    try:
        return _compute_with_limit(settings, day, params, available, DUCKDB_MEMORY_LIMIT)
    except duckdb.OutOfMemoryException as exc:
        LOG.warning("clusters: %s needed more than the %s DuckDB cap (%s); running it again "
                    "without the cap", day, DUCKDB_MEMORY_LIMIT, str(exc).splitlines()[0])
        return _compute_with_limit(settings, day, params, available, None)


def _compute_with_limit(settings: Settings, day: str, params: ClusterParams,
                        available: set[str] | None, limit: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dg-clusters-spill-") as spill:
        con = connect(settings)
        try:
            if limit is not None:
                con.execute(f"SET memory_limit = '{limit}'")
            con.execute(f"SET temp_directory = '{spill.replace(chr(39), chr(39) * 2)}'")
            return _compute_day(con, settings, day, params, available)
        finally:
            con.close()


def _compute_day(con: duckdb.DuckDBPyConnection, settings: Settings, day: str,
                 params: ClusterParams, available: set[str] | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    if settings.engine != "spark":
        return _cluster_day(con, settings, day, params, available, t0)
    spark = spark_sql.session(settings)
    with nodes_spark.open_day(spark, settings, day) as day_nodes:  # kept on the executors
        return _cluster_day(con, settings, day, params, available, t0, spark, day_nodes)


def _cluster_day(con: duckdb.DuckDBPyConnection, settings: Settings, day: str,
                 params: ClusterParams, available: set[str] | None, t0: float,
                 spark: Any = None, day_nodes: nodes_spark.DayNodes | None = None,
                 ) -> dict[str, Any]:
    timings: dict[str, float] = {}
    if day_nodes is None:
        nodes = _nodes(con, day)
        n_accounts = len(nodes)
    else:  # on the executors: the clustered accounts' rows are fetched below
        _spark_nodes(con, day, params)
        n_accounts = day_nodes.count
    if spark is not None:  # the mean on the cluster; the clustered accounts' rows fetched below
        centroids, centroid_mean = {}, embedding_spark.centroid_mean(spark, settings, day)
    else:
        centroids, centroid_mean = centroid_table(settings, day)
    edges_parts, contexts = [], {}
    for w in _windows(day, params, available or {day}):
        t = time.perf_counter()
        e, ctx = window_edges(con, params, day, w, centroids, settings, spark, centroid_mean)
        edges_parts.append(e)
        contexts[w] = ctx
        timings[f"window_{w}d_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    edges = pd.concat(edges_parts, ignore_index=True)
    edges_parts.clear()  # each frame is held once: the parts, then the typed edges, then the best
    n_typed = len(edges)
    if spark is not None:  # strongest edges and pair scores on the cluster, the same rows
        best, pairs = scoring_spark.score(spark, settings, edges, params)
        del edges
    else:
        best = best_edges(edges)
        del edges
        pairs = score_pairs(best, params)
    groups = communities(build_graph(pairs), params, _components(spark, pairs, settings))
    timings["graph_s"] = round(time.perf_counter() - t, 2)
    sweep = None
    if params.sweep_enabled:  # set-level search over the longest window (still open)
        t = time.perf_counter()
        sweep = sweeps.search(con, params, {a for g in groups for a in g},
                              settings.home / "embeddings" / "cache")
        if sweep.groups:
            cov = sweep.edges.assign(window=f"{max(contexts)}d")
            best = pd.concat([best, cov], ignore_index=True)
            pairs = add_set_links(pairs, sweep.edges, params)
            groups = sorted(groups + sweep.groups, key=lambda m: (-len(m), m[0]))
        timings["sweep_s"] = round(time.perf_counter() - t, 2)
    prev_day, prev_members = _previous(settings, day, params)
    ids = assign_ids(groups, prev_members, params.carry_min_jaccard)
    ids["members"] = groups
    ids["previous_date"] = pd.Series([prev_day if isinstance(p, str) else None
                                      for p in ids["previous_cluster_id"]], dtype=object)
    stored = _stored_edges(best, pairs, params)
    if spark is not None:  # the clustered accounts' centroids and node rows, from the cluster
        clustered = sorted({a for g in groups for a in g})
        centroids = embedding_spark.unit_centroids_of(spark, settings, day, clustered,
                                                      centroid_mean)
        if day_nodes is not None:
            nodes = day_nodes.rows_of(clustered)
    t = time.perf_counter()
    members = _members(ids, pairs)
    table = _clusters(settings, day, ids, nodes, stored, members, contexts, centroids, con,
                      params, prev_day, day_nodes)
    timings["features_s"] = round(time.perf_counter() - t, 2)
    _write(settings, day, stored, members, table, ids, nodes, day_nodes)
    timings["total_s"] = round(time.perf_counter() - t0, 2)
    summary = {"date": day, "accounts": int(n_accounts), "typed_edges": int(n_typed),
               "candidate_pairs": int(len(pairs)),
               "linked_pairs": int(pairs["linked"].sum()) if len(pairs) else 0,
               "clusters": len(groups), "clustered_accounts": int(sum(map(len, groups))),
               "windows": sorted(contexts), "seconds": timings,
               "sweep": ({"vectors": sweep.vector_source, "seconds": sweep.seconds,
                          **sweep.counts} if sweep is not None else None),
               "window_steps": {f"{w}d": {"seconds": c.seconds, **c.counts}
                                for w, c in contexts.items()}}
    write_bytes_atomic(store.day_dir(settings, day) / "summary.json",
                       orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return summary


def _components(spark: Any, pairs: pd.DataFrame, settings: Settings) -> list[set[str]] | None:
    """Connected components of the linked pairs on the Spark cluster (sent as a scratch file
    in the home's cluster cache, rounds checkpointed to ``spark_sql.checkpoint_dir``); None
    without one (the graph's own, in process)."""
    if spark is None:
        return None
    linked = pairs[pairs["linked"].astype(bool)] if len(pairs) else pairs
    return spark_sql.components(spark, linked["src"].astype(str).tolist(),
                                linked["dst"].astype(str).tolist(),
                                checkpoint=spark_sql.checkpoint_dir(settings),
                                scratch=settings)


def _stored_edges(best: pd.DataFrame, pairs: pd.DataFrame, params: ClusterParams) -> pd.DataFrame:
    """Typed edges of pairs scoring at least ``store_min_score``, with pair score and link flag."""
    cols = ["src", "dst", "edge_type", "family", "window", "weight", "evidence", "pair_score",
            "linked"]
    if best.empty:
        return pd.DataFrame(columns=cols)
    keep = pairs[(pairs["score"] >= params.store_min_score) | pairs["linked"]]
    out = best.merge(keep[["src", "dst", "score", "linked"]], on=["src", "dst"])
    out = out.rename(columns={"score": "pair_score"})
    out["family"] = out["edge_type"].map(FAMILIES)
    out["linked"] = out["linked"].astype(bool)
    return out[cols].sort_values(["src", "dst", "edge_type"]).reset_index(drop=True)


def _members(ids: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per member: cluster_id, account_id, degree (linked members), strength (sum score)."""
    rows = [(cid, a) for cid, ms in zip(ids["cluster_id"], ids["members"], strict=True) for a in ms]
    members = pd.DataFrame(rows, columns=["cluster_id", "account_id"])
    linked = pairs[pairs["linked"]] if len(pairs) else pairs
    if members.empty or linked.empty:
        return members.assign(degree=0, strength=0.0)
    cid = dict(zip(members["account_id"], members["cluster_id"], strict=True))
    both = pd.concat([linked[["src", "dst", "score"]],
                      linked[["dst", "src", "score"]].set_axis(["src", "dst", "score"], axis=1)])
    same = both[both["src"].map(cid).eq(both["dst"].map(cid))]
    agg = same.groupby("src").agg(degree=("dst", "size"), strength=("score", "sum"))
    members = members.merge(agg, left_on="account_id", right_index=True, how="left")
    members["degree"] = members["degree"].fillna(0).astype("int64")
    members["strength"] = members["strength"].fillna(0.0)
    return members


def _clusters(settings: Settings, day: str, ids: pd.DataFrame, nodes: pd.DataFrame,
              edges: pd.DataFrame, members: pd.DataFrame, contexts: dict[int, WindowContext],
              centroids: dict[str, np.ndarray], con: duckdb.DuckDBPyConnection,
              params: ClusterParams, prev_day: str | None,
              day_nodes: nodes_spark.DayNodes | None = None) -> pd.DataFrame:
    if ids.empty:
        return pd.DataFrame(columns=["cluster_id", "date", "size", "first_seen",
                                     "previous_cluster_id", *[c for c in FEATURE_NAMES
                                                              if c not in ("clu_degree",
                                                                           "clu_member_share")]])
    day_ctx = contexts[min(contexts)]
    long_ctx = contexts[max(contexts)]
    volumes = (volume_table(con, members) if day_nodes is None
               else day_nodes.volumes(members))  # on the executors: a scan of the day's requests
    clustered = sorted({a for ms in ids["members"] for a in ms})
    table = cluster_table(day, ids[["cluster_id", "members"]], nodes, edges, volumes,
                          long_ctx.scaffolds_of(clustered), day_ctx.minutes_of(clustered),
                          centroids, params)
    first = {}
    if prev_day is not None:
        old = store.read(settings, prev_day, "clusters")
        if old is not None:
            first = dict(zip(old["cluster_id"], old["first_seen"], strict=True))
    table["first_seen"] = [first.get(p, day) if isinstance(p, str) else day
                           for p in ids.set_index("cluster_id").loc[table["cluster_id"],
                                                                    "previous_cluster_id"]]
    table["clu_age_days"] = [(date.fromisoformat(day) - date.fromisoformat(str(f))).days
                             for f in table["first_seen"]]
    table["size"] = table["clu_size"]
    table["date"] = day
    table["previous_cluster_id"] = ids.set_index("cluster_id").loc[
        table["cluster_id"], "previous_cluster_id"].to_numpy()
    lead = ["cluster_id", "date", "size", "first_seen", "previous_cluster_id"]
    return table[lead + [c for c in table.columns if c not in lead]]


def _write(settings: Settings, day: str, edges: pd.DataFrame, members: pd.DataFrame,
           table: pd.DataFrame, ids: pd.DataFrame, nodes: pd.DataFrame,
           day_nodes: nodes_spark.DayNodes | None = None) -> None:
    """The day's tables; the per-account feature file from ``nodes`` (every active account),
    or with ``day_nodes`` built and written on the executors (``nodes_spark``)."""
    d = store.day_dir(settings, day)
    store.drop_campaigns(settings, day)  # they were found among this clustering's leftovers
    members = members.assign(date=pd.Timestamp(day).date())
    write_parquet_atomic(d / "edges.parquet", store.arrow_table(edges.assign(date=pd.Timestamp(day).date())))
    write_parquet_atomic(d / "members.parquet", store.arrow_table(members))
    id_map = ids[["cluster_id", "derived_id", "previous_cluster_id", "previous_date", "jaccard"]]
    write_parquet_atomic(d / "id_map.parquet", store.arrow_table(id_map.astype(
        {"previous_cluster_id": "object", "previous_date": "object", "jaccard": "float64"})))
    if day_nodes is not None:
        day_nodes.write_features(members, table, store.feature_path(settings, day))
    else:
        feats = account_features(day, nodes, members, table)
        write_parquet_atomic(store.feature_path(settings, day), store.arrow_table(feats))
    write_parquet_atomic(d / "clusters.parquet", store.arrow_table(table))
