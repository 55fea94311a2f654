"""Corroboration rule, clustering of the linked graph, stable ids."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest

from detector.clusters.graph import communities
from detector.clusters.ids import assign_ids, derive_id
from detector.clusters.params import ClusterParams
from detector.clusters.scoring import best_edges, score_pairs


def _edges(rows: list[tuple[str, str, str, float]], window: str = "1d") -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["src", "dst", "edge_type", "weight"])
    return df.assign(evidence="{}", window=window)


def test_one_family_is_never_enough_payment_always_is():
    p = ClusterParams()
    edges = _edges([
        ("a", "b", "payment", 1.0),                                     # payment alone
        ("c", "d", "ip", 1.0), ("c", "d", "prefix", 0.5),               # network only
        ("e", "f", "ip", 0.6), ("e", "f", "fingerprint", 0.5),          # two families, 1.1
        ("g", "h", "ip", 0.6), ("g", "h", "fingerprint", 0.2),          # second too weak
        ("i", "j", "template", 0.9), ("i", "j", "embedding", 0.9),      # both content
        ("k", "l", "timing", 0.5), ("k", "l", "creation", 0.4),         # 2 families, 0.9 < 1
    ])
    pairs = score_pairs(edges, p).set_index(["src", "dst"])
    linked = {k for k, v in pairs["linked"].items() if v}
    assert linked == {("a", "b"), ("e", "f")}
    assert pairs.loc[("c", "d"), "network"] == 1.0  # a family's weight is its best edge type
    assert pairs.loc[("e", "f"), "score"] == pytest.approx(1.1)
    assert pairs.loc[("i", "j"), "n_families"] == 1


def test_best_edge_per_type_across_windows():
    e = pd.concat([_edges([("a", "b", "ip", 0.4)], "1d"), _edges([("a", "b", "ip", 0.9)], "7d")])
    best = best_edges(e)
    assert len(best) == 1 and best["weight"].iloc[0] == 0.9 and best["window"].iloc[0] == "7d"


def test_dense_component_stays_whole_bridged_groups_split():
    p = ClusterParams(louvain_min_size=8, louvain_max_density=0.5)
    g = nx.Graph()
    left, right = [f"l{i}" for i in range(6)], [f"r{i}" for i in range(6)]
    for side in (left, right):
        g.add_weighted_edges_from((a, b, 2.0) for i, a in enumerate(side) for b in side[i + 1:])
    g.add_edge("l0", "r0", weight=1.0)  # one stray link: density 31/66 < 0.5
    assert communities(g, p) == [sorted(left), sorted(right)]
    g.add_weighted_edges_from((a, b, 1.0) for a in left for b in right)  # now dense
    assert communities(g, p) == [sorted(left + right)]
    pair = nx.Graph([("x", "y")])
    assert communities(pair, ClusterParams(min_cluster_size=3)) == []


def test_ids_derive_from_members_and_carry_over():
    assert derive_id(["b", "a"]) == derive_id(["a", "b"]) != derive_id(["a", "c"])
    prev = pd.DataFrame({"cluster_id": ["c_old"] * 4 + ["c_gone"] * 2,
                         "account_id": ["a", "b", "c", "d", "x", "y"]})
    groups = [["a", "b", "c", "e"], ["d", "f"], ["x", "y", "z", "w", "v"]]
    ids = assign_ids(groups, prev, min_jaccard=0.5)
    # {a,b,c,e} vs {a,b,c,d}: 3/5 = 0.6 -> keeps c_old; {d,f}: 1/5; {x..v} vs {x,y}: 2/5
    assert list(ids["cluster_id"]) == ["c_old", derive_id(["d", "f"]),
                                       derive_id(["x", "y", "z", "w", "v"])]
    assert ids["jaccard"].iloc[0] == pytest.approx(0.6)
    assert ids["previous_cluster_id"].iloc[1] is None


def test_an_old_id_goes_to_the_best_match_only():
    prev = pd.DataFrame({"cluster_id": ["c_old"] * 4, "account_id": ["a", "b", "c", "d"]})
    ids = assign_ids([["a", "b"], ["a", "b", "c"]], prev, min_jaccard=0.5)
    assert list(ids["previous_cluster_id"]) == [None, "c_old"]  # 3/4 beats 2/4


def test_params_are_validated_with_the_name():
    with pytest.raises(ValueError, match="max_key_accounts: expected an integer >= 2, got 1"):
        ClusterParams(max_key_accounts=1)
    with pytest.raises(ValueError, match="carry_min_jaccard"):
        ClusterParams(carry_min_jaccard=0.0)


def test_louvain_pieces_of_one_operation_merge_back():
    # four payment cliques of 6, cross-linked on 30% of cross pairs (sparse overall: < 0.5)
    g = nx.Graph()
    cards = [[f"c{k}m{i}" for i in range(6)] for k in range(4)]
    for side in cards:
        g.add_weighted_edges_from((a, b, 3.0) for i, a in enumerate(side) for b in side[i + 1:])
    for k in range(4):
        for q in range(k + 1, 4):
            g.add_weighted_edges_from((a, b, 1.0) for i, a in enumerate(cards[k])
                                      for j, b in enumerate(cards[q]) if (i + j) % 3 == 0)
    p = ClusterParams(louvain_max_density=0.9, merge_min_density=0.1)
    assert communities(g, p) == [sorted(sum(cards, []))]


def test_a_new_cluster_never_reuses_an_id_held_the_day_before():
    # yesterday's c_x was derived from {a, b} long ago and has moved on to {a, c}
    old = derive_id(["a", "b"])
    prev = pd.DataFrame({"cluster_id": [old, old], "account_id": ["a", "c"]})
    ids = assign_ids([["a", "c", "d", "e"], ["a", "b"]], prev, min_jaccard=0.5)
    # {a,c,d,e} vs {a,c}: 2/4 keeps the id; {a,b} vs {a,c}: 1/3; its derived id is taken
    assert ids["cluster_id"].iloc[0] == old
    assert ids["cluster_id"].iloc[1] != old and ids["cluster_id"].is_unique


def test_louvain_input_order_does_not_depend_on_set_order():
    from detector.clusters.graph import _ordered_subgraph

    g = nx.Graph()
    g.add_weighted_edges_from([("d", "a", 1.5), ("c", "b", 2.0), ("a", "c", 1.0), ("x", "y", 3.0)])
    for nodes in ({"d", "c", "b", "a"}, {"a", "b", "c", "d"}):
        sub = _ordered_subgraph(g, nodes)
        assert list(sub.nodes) == ["a", "b", "c", "d"]
        assert list(sub.edges(data="weight")) == [("a", "c", 1.0), ("a", "d", 1.5),
                                                  ("b", "c", 2.0)]
