"""Notebook helpers about clusters: an account's evidence edges and a cluster as a graph.

Read-only; they read the cluster stage's tables through ``detector.clusters.store`` and the
verdicts through ``detector.verdicts``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from detector.errors import InputError
from detector.settings import Settings

if TYPE_CHECKING:
    import networkx as nx


def _edges(settings: Settings, day: str) -> pd.DataFrame:
    from detector.clusters.store import read

    edges = read(settings, day, "edges")
    if edges is None:
        return pd.DataFrame(columns=["src", "dst", "edge_type", "family", "window", "weight",
                                     "evidence", "pair_score", "linked"])
    return edges


def _membership(settings: Settings, day: str) -> dict[str, str]:
    from detector.clusters.store import read

    members = read(settings, day, "members")
    if members is None:
        return {}
    return dict(zip(members["account_id"], members["cluster_id"], strict=True))


def _clustered_day(settings: Settings, day: str | None) -> str:
    from detector.clusters.store import clustered_days

    if day:
        return str(day)[:10]
    days = clustered_days(settings)
    if not days:
        raise InputError(f"no clustered day in {settings.home}: run the pipeline first")
    return days[-1]


def cluster_neighbours(settings: Settings, account_id: str, day: str | None = None) -> pd.DataFrame:
    """Accounts linked to ``account_id`` by a typed evidence edge on ``day`` (default: the
    latest clustered day), strongest pair first.

    Columns: neighbour, edge_type, family, window, weight, pair_score, linked (the pair's total
    evidence passed the link threshold), evidence (dict), same_cluster, neighbour_cluster.
    """
    day = _clustered_day(settings, day)
    edges = _edges(settings, day)
    mine = edges[(edges["src"] == account_id) | (edges["dst"] == account_id)].copy()
    mine["neighbour"] = np.where(mine["src"] == account_id, mine["dst"], mine["src"])
    member = _membership(settings, day)
    own = member.get(account_id)
    mine["neighbour_cluster"] = mine["neighbour"].map(member)
    mine["same_cluster"] = (own is not None) & (mine["neighbour_cluster"] == own)
    mine["evidence"] = mine["evidence"].map(lambda e: json.loads(e) if e else {})
    cols = ["neighbour", "edge_type", "family", "window", "weight", "pair_score", "linked",
            "evidence", "same_cluster", "neighbour_cluster"]
    return mine.sort_values(["pair_score", "neighbour", "edge_type"],
                            ascending=[False, True, True])[cols].reset_index(drop=True)


def cluster_graph(settings: Settings, cluster_id: str, date: str | None = None) -> nx.Graph:
    """The cluster as a networkx graph: members as nodes, evidence between them as edges.

    Node attributes: ``degree``/``strength`` (from the cluster stage), ``score`` and
    ``decision`` (the member's verdict that day, None when not scored). Edge attributes:
    ``types`` (sorted edge types), ``weights`` ({edge_type: weight}, the strongest window),
    ``weight`` (their sum), ``pair_score``, ``linked`` and ``evidence``
    ({edge_type: evidence dict}). The graph's ``graph`` dict holds
    the cluster's row (size, clu_* features, date). KeyError naming the id when unknown.
    """
    import networkx as nx

    from detector.clusters import show_cluster
    from detector.verdicts import load_verdicts

    shown = show_cluster(settings, cluster_id, date)
    if shown is None:
        raise KeyError(f"cluster_id: no cluster {cluster_id!r} on {date or 'any clustered day'}")
    day = shown["date"]
    verdicts = load_verdicts(settings, day, columns=["account_id", "score", "decision"])
    by_acct = verdicts.set_index("account_id").to_dict(orient="index")
    g = nx.Graph(**{k: v for k, v in shown.items() if k not in ("members", "edges")})
    for m in shown["members"]:
        v = by_acct.get(m["account_id"], {})
        g.add_node(m["account_id"], degree=m.get("degree"), strength=m.get("strength"),
                   score=v.get("score"), decision=v.get("decision"))
    for e in shown["edges"]:
        a, b = e["src"], e["dst"]
        if not g.has_edge(a, b):
            g.add_edge(a, b, types=[], weights={}, weight=0.0, pair_score=e.get("pair_score"),
                       linked=bool(e.get("linked")), evidence={})
        data = g.edges[a, b]
        kind, weight = e["edge_type"], float(e.get("weight") or 0.0)
        data["types"] = sorted({*data["types"], kind})
        if weight >= data["weights"].get(kind, -1.0):
            data["weights"][kind] = weight
            data["evidence"][kind] = e.get("evidence") or {}
        data["weight"] = sum(data["weights"].values())
    return g
