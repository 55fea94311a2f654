"""Clustering of the linked-account graph: connected components, split by Louvain.

Components over linked pairs are the candidate clusters. A component of at least
``louvain_min_size`` accounts whose link density is below ``louvain_max_density`` is split
into Louvain communities (networkx, weighted by the pair score, fixed seed), so that two groups
joined by a few stray links come apart; a dense component (one operation linked all round,
such as a hydra whose members share several payment cards) is kept whole, and communities
linked to each other by at least ``merge_min_density`` of their possible pairs are merged back.
"""

from __future__ import annotations

import networkx as nx
import pandas as pd

from detector.clusters.params import ClusterParams


def build_graph(pairs: pd.DataFrame) -> nx.Graph:
    """Undirected graph of linked pairs, edge attribute ``weight`` = pair score."""
    g = nx.Graph()
    linked = pairs[pairs["linked"].astype(bool)] if not pairs.empty else pairs
    g.add_weighted_edges_from(
        zip(linked["src"], linked["dst"], linked["score"].astype(float), strict=True))
    return g


def communities(g: nx.Graph, params: ClusterParams,
                components: list[set[str]] | None = None) -> list[list[str]]:
    """Groups of at least ``min_cluster_size`` accounts, each sorted, largest group first.

    ``components``: the connected components of ``g`` when they were found elsewhere (on a
    Spark cluster, ``detector.clusters.spark_sql.components``); the split of each one stays
    here (per component: small by construction)."""
    groups: list[list[str]] = []
    for comp in (nx.connected_components(g) if components is None else components):
        if len(comp) < params.min_cluster_size:
            continue
        sub = _ordered_subgraph(g, comp)
        n = len(comp)
        density = sub.number_of_edges() / (n * (n - 1) / 2)
        if n < params.louvain_min_size or density >= params.louvain_max_density:
            groups.append(sorted(comp))
            continue
        parts = nx.community.louvain_communities(
            sub, weight="weight", resolution=params.louvain_resolution, seed=params.seed)
        parts = merge_dense(sub, [set(p) for p in parts], params.merge_min_density)
        groups += [sorted(p) for p in parts if len(p) >= params.min_cluster_size]
    return sorted(groups, key=lambda m: (-len(m), m[0]))


def _ordered_subgraph(g: nx.Graph, nodes: set[str]) -> nx.Graph:
    """Copy of ``g`` restricted to ``nodes``, nodes and edges inserted in sorted order.

    Louvain visits nodes in the graph's order (shuffled by its seed); a subgraph view
    iterates the component's *set*, whose order changes with Python's per-process string
    hashing, so the same input gave different communities from one process to the next."""
    sub = nx.Graph()
    sub.add_nodes_from(sorted(nodes))
    sub.add_weighted_edges_from(sorted(
        (min(a, b), max(a, b), w) for a, b, w in g.subgraph(nodes).edges(data="weight")))
    return sub


def merge_dense(g: nx.Graph, parts: list[set[str]], min_density: float) -> list[set[str]]:
    """Merge communities linked to each other by at least ``min_density`` of their possible
    pairs (repeatedly, densest first): Louvain may cut one operation along its payment cards,
    while two groups joined by a few stray links stay apart."""
    parts = [set(p) for p in parts]
    while len(parts) > 1:
        owner = {a: i for i, p in enumerate(parts) for a in p}
        between: dict[tuple[int, int], int] = {}
        for a, b in g.edges():
            i, j = owner[a], owner[b]
            if i != j:
                key = (min(i, j), max(i, j))
                between[key] = between.get(key, 0) + 1
        best = max(((n / (len(parts[i]) * len(parts[j])), i, j) for (i, j), n in between.items()),
                   default=None)
        if best is None or best[0] < min_density:
            break
        _, i, j = best
        parts[i] |= parts[j]
        del parts[j]
    return parts
