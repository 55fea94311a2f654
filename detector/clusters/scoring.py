"""Typed edges -> account links: corroboration across evidence families.

A pair of accounts is *linked* (an edge the clustering may follow) when they share a payment
instrument, or when at least ``link_min_families`` distinct evidence families each weigh at
least ``family_min_weight`` and their summed weight reaches ``link_min_score``. One address
(a NAT), one stock client, one template: none is enough alone.

Grain: one row per unordered account pair (src < dst).
"""

from __future__ import annotations

import pandas as pd

from detector.clusters.params import FAMILIES, ClusterParams

FAMILY_NAMES: tuple[str, ...] = tuple(dict.fromkeys(FAMILIES.values()))


def best_edges(edges: pd.DataFrame) -> pd.DataFrame:
    """Strongest row per (src, dst, edge_type) across windows."""
    if edges.empty:
        return edges
    return (edges.sort_values(["weight", "window"], ascending=[False, True])
            .drop_duplicates(["src", "dst", "edge_type"]).reset_index(drop=True))


def score_pairs(edges: pd.DataFrame, params: ClusterParams) -> pd.DataFrame:
    """One row per pair: weight per family (max over its edge types), score, families, linked."""
    cols = ["src", "dst", *FAMILY_NAMES, "score", "n_families", "linked"]
    if edges.empty:
        return pd.DataFrame(columns=cols)
    e = edges.assign(family=edges["edge_type"].map(FAMILIES))
    wide = (e.pivot_table(index=["src", "dst"], columns="family", values="weight", aggfunc="max")
            .reindex(columns=list(FAMILY_NAMES)).fillna(0.0))
    wide["score"] = wide.sum(axis=1)
    wide["n_families"] = (wide[list(FAMILY_NAMES)] >= params.family_min_weight).sum(axis=1)
    corroborated = ((wide["n_families"] >= params.link_min_families)
                    & (wide["score"] >= params.link_min_score))
    wide["linked"] = (wide["payment"] >= 1.0) | corroborated
    return wide.reset_index()[cols]


def add_set_links(pairs: pd.DataFrame, edges: pd.DataFrame, params: ClusterParams) -> pd.DataFrame:
    """Pairs with set-level ``coverage`` edges (members of one sweep group) marked linked.

    The group, not the pair, carries the evidence (see ``sweeps.py``), so these pairs link
    without a second family; an existing pair row gains the coverage weight in its score.
    """
    if edges.empty:
        return pairs
    cov = edges[["src", "dst", "weight"]].rename(columns={"weight": "coverage"})
    cols = ["src", "dst", *FAMILY_NAMES, "score", "n_families", "linked"]
    base = pairs.drop(columns=["coverage"]) if "coverage" in pairs else pairs
    out = base.merge(cov, on=["src", "dst"], how="outer")
    for f in FAMILY_NAMES:
        out[f] = out[f].astype("float64").fillna(0.0) if f in out else 0.0
    new = out["coverage"] > 0
    out["score"] = out[list(FAMILY_NAMES)].sum(axis=1)
    out["n_families"] = (out[list(FAMILY_NAMES)] >= params.family_min_weight).sum(axis=1)
    out["linked"] = out["linked"].astype("boolean").fillna(False).astype(bool) | new
    return out[cols].reset_index(drop=True)
