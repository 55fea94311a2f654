"""Cluster-level features (grain: one row per cluster and day) and their per-account join.

Volumes are over the clustered day; overlaps and synchrony are means over member pairs (a
deterministic sample of at most 2,000 pairs for big clusters).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from detector.clusters.catalog import COLUMNS
from detector.clusters.params import ClusterParams
from detector.clusters.timing import MinuteMatrix, mean_pair_correlation

_MAX_PAIRS = 2000
#: The per-account cluster feature columns (catalog order), after ``account_id``, ``date``, ``cluster_id``.
FEATURE_NAMES = [c["name"] for c in COLUMNS if c["name"] != "cluster_id"]


def _pairs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(n, k=1)
    if i.size > _MAX_PAIRS:
        pick = np.sort(np.random.default_rng(seed).choice(i.size, _MAX_PAIRS, replace=False))
        i, j = i[pick], j[pick]
    return i, j


def template_overlap(members: list[str], scaffolds: dict[str, np.ndarray],
                     seed: int) -> float | None:
    """Mean exact Jaccard of template scaffolds over member pairs that both have one."""
    sets = [scaffolds[m] for m in members if m in scaffolds]
    if len(sets) < 2:
        return None
    i, j = _pairs(len(sets), seed)
    jac = []
    for a, b in zip(i, j, strict=True):
        inter = np.intersect1d(sets[a], sets[b], assume_unique=True).size
        jac.append(inter / (sets[a].size + sets[b].size - inter))
    return float(np.mean(jac))


def centroid_spread(members: list[str], centroids: dict[str, np.ndarray],
                    seed: int) -> float | None:
    """Mean cosine distance between member centroids (high = members cover different topics)."""
    vecs = [centroids[m] for m in members if m in centroids]
    if len(vecs) < 2:
        return None
    x = np.vstack(vecs).astype(np.float64)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    i, j = _pairs(len(vecs), seed)
    return float(np.mean(1.0 - (x[i] * x[j]).sum(axis=1)))


def volume_table(con: duckdb.DuckDBPyConnection, members: pd.DataFrame) -> pd.DataFrame:
    """Per cluster: requests, tokens and distinct prompts of the day (``day`` view)."""
    con.register("_members", members[["cluster_id", "account_id"]])
    out = con.execute("""
        SELECT m.cluster_id, count(*) AS clu_total_requests,
               coalesce(sum(d.completion_tokens), 0) AS clu_total_output_tokens,
               coalesce(sum(d.prompt_tokens), 0) AS clu_total_prompt_tokens,
               count(DISTINCT d.prompt_hash) AS union_prompts,
               count(DISTINCT d.client_ip) AS clu_distinct_ips
        FROM day d JOIN _members m USING (account_id) GROUP BY m.cluster_id
    """).df()
    con.unregister("_members")
    return out


def _inside(groups: pd.DataFrame, edges: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Edges whose two ends are in the same cluster, by cluster id (one pass over edges)."""
    owner = {a: cid for cid, ms in zip(groups["cluster_id"], groups["members"], strict=True)
             for a in ms}
    src, dst = edges["src"].map(owner), edges["dst"].map(owner)
    inside = edges[src.notna() & src.eq(dst)]
    return dict(tuple(inside.groupby(src[inside.index])))


def _link_stats(members: list[str], inside: pd.DataFrame | None) -> dict[str, float]:
    if inside is None:
        inside = pd.DataFrame(columns=["src", "dst", "edge_type", "linked", "pair_score"])
    n = len(members)
    linked = inside[inside["linked"]].drop_duplicates(["src", "dst"])
    paid = inside[inside["edge_type"] == "payment"]
    net = inside[inside["edge_type"].isin(["ip", "prefix"])]
    share = lambda e: len(set(e["src"]) | set(e["dst"])) / n  # noqa: E731
    return {
        "clu_density": len(linked) / (n * (n - 1) / 2),
        "clu_edge_types": float(inside["edge_type"].nunique()),
        "clu_mean_link_score": float(linked["pair_score"].mean()) if len(linked) else 0.0,
        "clu_shared_payment": share(paid),
        "clu_shared_network": share(net),
    }


def cluster_table(day: str, groups: pd.DataFrame, nodes: pd.DataFrame, edges: pd.DataFrame,
                  volumes: pd.DataFrame, scaffolds: dict[str, np.ndarray],
                  minutes: MinuteMatrix | None, centroids: dict[str, np.ndarray],
                  params: ClusterParams) -> pd.DataFrame:
    """One row per cluster: size, volumes, overlap, synchrony, payment, newness, coverage."""
    end = pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)
    node_idx = nodes.set_index("account_id")
    rows = []
    by_cluster = _inside(groups, edges)
    for cid, members in zip(groups["cluster_id"], groups["members"], strict=True):
        created = node_idx.loc[members, "created_at"].dropna()
        age_days = (end - created).dt.total_seconds() / 86400.0
        row = {
            "cluster_id": cid, "clu_size": len(members),
            "clu_template_overlap": template_overlap(members, scaffolds, params.seed),
            "clu_timing_sync": (mean_pair_correlation(minutes, members, _MAX_PAIRS, params.seed)
                                if minutes is not None else None),
            "clu_new_account_share": (float((age_days <= params.new_account_days).mean())
                                      if len(created) else None),
            "clu_creation_span_h": (float((created.max() - created.min()).total_seconds() / 3600)
                                    if len(created) else None),
            "clu_centroid_spread": centroid_spread(members, centroids, params.seed),
            "sum_member_prompts": float(node_idx.loc[members, "n_prompts"].sum()),
        }
        row.update(_link_stats(members, by_cluster.get(cid)))
        rows.append(row)
    out = pd.DataFrame(rows).merge(volumes, on="cluster_id", how="left")
    out["clu_coverage"] = out["union_prompts"] / out["clu_total_requests"].clip(lower=1)
    out["clu_prompt_overlap"] = 1.0 - out["union_prompts"] / out["sum_member_prompts"].clip(lower=1)
    return out.drop(columns=["union_prompts", "sum_member_prompts"])


def account_features(day: str, nodes: pd.DataFrame, members: pd.DataFrame,
                     table: pd.DataFrame) -> pd.DataFrame:
    """One row per account active on ``day``: cluster_id and clu_* (see catalog)."""
    base = nodes[["account_id", "n_requests"]].copy()
    base = base.merge(members[["account_id", "cluster_id", "degree"]], on="account_id", how="left")
    feats = [c for c in FEATURE_NAMES if c not in ("clu_degree", "clu_member_share")]
    if not table.empty:
        base = base.merge(table[["cluster_id", *feats]], on="cluster_id", how="left")
    for c in feats:
        if c not in base:
            base[c] = np.nan
    base["clu_size"] = base["clu_size"].fillna(1).astype("int64")
    base["clu_degree"] = base["degree"].fillna(0).astype("int64")
    base["clu_member_share"] = base["n_requests"] / base["clu_total_requests"]
    base["date"] = pd.Timestamp(day).date()
    cols = ["account_id", "date", "cluster_id", *FEATURE_NAMES]
    out = base[cols].sort_values("account_id").reset_index(drop=True)
    for c in FEATURE_NAMES:
        if c not in ("clu_size", "clu_degree"):
            out[c] = out[c].astype("float64")
    return out
