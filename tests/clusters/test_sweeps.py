"""Set-level sweep search: pair evidence, group test, and a constructed low-and-slow group.

The constructed population: 160 topics (random directions); a *group* of 4 accounts splitting
40 topics each out of 160 between them (disjoint slices), 14 independent sweepers drawing 40
topics each from the same 160 (they overlap each other and the group by chance), and casual
accounts each on their own topics. Every prompt is its topic's direction plus phrasing noise.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
import scipy.sparse as sp

from detector.clusters import compute, show_cluster
from detector.clusters.params import ClusterParams
from detector.clusters.store import read
from detector.clusters.sweep_topics import topic_matches
from detector.clusters.sweeps import group_test, pair_llr, pair_surprise
from detector.embeddings.cache import EmbeddingCache

from .conftest import DAY, T0, req, write_lake

DIM, TOPICS = 128, 160
#: A lower group threshold than the default (25 nats): this population is small (4 members,
#: 40 prompts each); the test checks the mechanics and evidence, not the operating point.
P = replace(ClusterParams(), sweep_enabled=True, sweep_min_group_surprise=10.0)


def test_pair_llr_hand_computed() -> None:
    # expected 2 matches, none seen: 2 * (1 - 0.25) = 1.5 nats for "split one sweep"
    llr = pair_llr(np.array([0.0, 1.0, 3.0]), np.array([2.0, 2.0, 2.0]), 0.25)
    assert llr[0] == pytest.approx(1.5)
    assert llr[1] == pytest.approx(1.5 + math.log(0.25))
    assert llr[2] < 0  # three shared topics: evidence against


def test_group_test_hand_computed() -> None:
    o = sp.csr_matrix(np.zeros((3, 3)))
    e = sp.csr_matrix(np.full((3, 3), 2.0) - np.diag([2.0] * 3))
    obs, lam, surprise = group_test(o, e, [0, 1, 2])
    assert (obs, lam) == (0, pytest.approx(6.0))
    assert surprise == pytest.approx(6.0)  # -ln P(Poisson(6) <= 0) = 6


def test_topic_matches_and_degree_correction() -> None:
    g = np.random.default_rng(0)
    t = g.normal(size=(3, DIM))
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    # account 0 and 1 both ask topic 0; account 2 asks topic 1 and 2
    x = np.vstack([t[0], t[0], t[1], t[2]])
    owner = np.array([0, 1, 2, 2])
    p = replace(ClusterParams(), sweep_block=64, sweep_region=64)
    o, expected = topic_matches(x, owner, 3, p)
    assert o[0, 1] == 1 and o[1, 0] == 1 and o[0, 2] == 0 and o.diagonal().sum() == 0
    # one region of 4 prompts: 5 cross-account prompt pairs, 1 matched -> base rate 1/5
    assert expected[0, 2] == pytest.approx(2 / 5)
    pairs = pair_surprise(o, expected).set_index(["i", "j"])
    # account 2 shares topics with nobody: its expectations are scaled to 0 (no evidence)
    assert pairs.loc[(0, 2), "expected"] == pytest.approx(0.0)


def _population(seed: int = 1) -> tuple[list[dict], dict[str, np.ndarray], list[str]]:
    g = np.random.default_rng(seed)
    topics = g.normal(size=(TOPICS, DIM))
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    order = g.permutation(TOPICS)
    plan: dict[str, np.ndarray] = {f"grp_{k}": order[k::4] for k in range(4)}
    plan.update({f"ind_{k:02d}": g.choice(TOPICS, 40, replace=False) for k in range(14)})
    rows, vectors = [], {}
    for k, (acct, mine) in enumerate(plan.items()):
        times = np.sort(g.uniform(0, 86000, len(mine)))  # each on its own schedule
        for n, topic in enumerate(mine):
            text = f"question {n} from {acct} about topic {topic}"
            vec = topics[topic] + g.normal(scale=0.25 / math.sqrt(DIM), size=DIM)
            ts = T0 + timedelta(seconds=float(times[n]))
            r = req(acct, ts, text, model="m-large", max_tokens=2048, n_user_turns=1,
                    ip=f"10.{k}.{n % 3}.9")
            vectors[r["prompt_hash"]] = vec / np.linalg.norm(vec)
            rows.append(r)
    for k in range(20):  # casual accounts, each on topics of their own
        for n in range(10):
            text = f"casual {k} wonders about thing {n}"
            r = req(f"cas_{k:02d}", T0 + timedelta(minutes=61 * n + k), text, model="m-large",
                    max_tokens=2048, n_user_turns=1)
            v = g.normal(size=DIM)
            vectors[r["prompt_hash"]] = v / np.linalg.norm(v)
            rows.append(r)
    return rows, vectors, sorted(a for a in plan if a.startswith("grp_"))


def _cache(settings, vectors: dict[str, np.ndarray]) -> None:
    cache = EmbeddingCache(settings.home / "embeddings" / "cache", "test", "v1", DIM)
    cache.add(list(vectors), np.vstack(list(vectors.values())).astype(np.float32))


def test_constructed_group_found_with_evidence(home) -> None:
    rows, vectors, group = _population()
    write_lake(home, rows)
    _cache(home, vectors)
    compute(home, [DAY], P)
    members = read(home, DAY, "members")
    clusters = members.groupby("cluster_id")["account_id"].apply(sorted).tolist()
    assert group in clusters
    assert all(not a.startswith(("ind_", "cas_")) for ms in clusters for a in ms)
    cid = members.loc[members["account_id"] == group[0], "cluster_id"].iloc[0]
    shown = show_cluster(home, cid)
    cov = [e for e in shown["edges"] if e["edge_type"] == "coverage"]
    assert cov and all(e["linked"] for e in cov)
    ev = cov[0]["evidence"]
    assert ev["shared_topics"] == 0 and ev["expected_shared"] > 0
    assert ev["group_size"] == 4 and ev["group_surprise_nats"] >= 10
    assert ev["random_sets_as_disjoint"] <= 0.01
    summary = (home.home / "clusters" / f"date={DAY}" / "summary.json").read_text()
    assert '"groups": 1' in summary


def test_no_group_without_embedding_cache(home) -> None:
    rows, _, _ = _population()
    write_lake(home, rows)
    compute(home, [DAY], P)
    members = read(home, DAY, "members")
    assert not members["account_id"].str.startswith("grp_").any()


def test_independent_sweepers_alone_form_no_group(home) -> None:
    rows, vectors, group = _population()
    rows = [r for r in rows if r["account_id"] not in group]
    write_lake(home, rows)
    _cache(home, vectors)
    compute(home, [DAY], P)
    assert read(home, DAY, "members").empty


def test_sweep_can_be_switched_off(home) -> None:
    rows, vectors, group = _population()
    write_lake(home, rows)
    _cache(home, vectors)
    compute(home, [DAY], replace(P, sweep_enabled=False))
    members = read(home, DAY, "members")
    assert not members["account_id"].isin(group).any()
