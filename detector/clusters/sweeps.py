"""Set-level search for *low-and-slow* groups: accounts that split one topic sweep between them.

Experimental and off by default (``ClusterParams.sweep_enabled``): on training traffic it
added more benign account-days to clusters than low-and-slow ones (docs/clusters.md).

Such a group shares nothing pairwise (own addresses, own apps, human timing, real-looking
questions); what gives it away is the *set*: each member walks its own slice of a topic space,
so members' topics are mutually disjoint far beyond chance, while each of them meets other
accounts sweeping the same space at the usual rate.

Grain: accounts active on the clustered day, their *opening* prompts (first user turn of a
conversation) over the longest look-back window. Steps:

1. **Candidates** (``openings``): ``sweep_min_topics`` to ``sweep_max_openings`` distinct
   openings in the window, at most ``sweep_sample`` used, not already in a pairwise cluster.
2. **Topic vectors** (``prompt_vectors``): the coverage stage's embedding cache, top
   ``sweep_remove_pcs`` principal directions (shared phrasing) projected out.
3. **Topic matches and their expectation** (``topic_matches``): openings on one topic
   (cosine >= ``sweep_tau``) counted per account pair, compared only inside k-means blocks;
   the expected count from each coarser region's base match rate.
4. **Pair evidence** (``pair_surprise``, ``pair_llr``): expectation degree-corrected per
   account; LLR of "split one sweep" against "independent", between accounts of one request
   profile (dominant model and max_tokens).
5. **Groups** (``_groups``): Louvain communities of the positive-LLR graph, trimmed, kept
   when the group's Poisson surprise and a random-set null from its neighbourhood pass.

Every kept pair becomes a ``coverage`` edge whose evidence says why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import networkx as nx
import numpy as np
import orjson
import pandas as pd
import scipy.sparse as sp
from scipy.stats import poisson

from detector.clusters.keys import PAIR_COLUMNS
from detector.clusters.params import ClusterParams
from detector.clusters.sweep_topics import prompt_vectors, topic_matches
from detector.lake.hashing import EMPTY_PROMPT_HASH


@dataclass
class SweepResult:
    """Groups found by the sweep search, their coverage edges and what it cost."""

    groups: list[list[str]] = field(default_factory=list)
    #: per group (same order): size, topic matches inside, expected, surprise, null share
    group_info: list[dict] = field(default_factory=list)
    edges: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PAIR_COLUMNS))
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    vector_source: str = "none"


def openings(con: duckdb.DuckDBPyConnection, p: ClusterParams,
             exclude: set[str]) -> pd.DataFrame:
    """Distinct opening prompts of candidate accounts in the open window (view ``win_text``).

    One row per (account_id, prompt_hash) with the account's request profile; prompts that are
    empty once whitespace is collapsed are left out (by their hash: the text is not read). Candidates: ``sweep_min_topics`` to ``sweep_max_openings``
    distinct openings, not in ``exclude``; at most ``sweep_sample`` openings kept per
    account (smallest md5 of the hash first: deterministic, independent of other accounts).
    """
    con.register("_swx", pd.DataFrame({"account_id": pd.Series(sorted(exclude), dtype=object)}))
    df = con.execute(f"""
        WITH o AS (
            SELECT DISTINCT account_id, prompt_hash
            FROM win_text
            WHERE coalesce(n_user_turns, 1) <= 1 AND prompt_hash IS NOT NULL
              AND prompt_hash <> '{EMPTY_PROMPT_HASH}'
              AND account_id NOT IN (SELECT CAST(account_id AS VARCHAR) FROM _swx)),
        r AS (SELECT *, count(*) OVER (PARTITION BY account_id) AS n_open,
                     row_number() OVER (PARTITION BY account_id ORDER BY md5(prompt_hash)) AS k
              FROM o),
        c AS (SELECT * FROM r WHERE n_open BETWEEN {int(p.sweep_min_topics)}
                                    AND {int(p.sweep_max_openings)}
                                AND k <= {int(p.sweep_sample)}),
        prof AS (
            SELECT account_id, mode(coalesce(model, '?')) AS model,
                   mode(coalesce(CAST(max_tokens AS VARCHAR), 'none')) AS max_tokens
            FROM win_text WHERE account_id IN (SELECT DISTINCT account_id FROM c)
            GROUP BY account_id)
        SELECT c.account_id, c.prompt_hash, prof.model, prof.max_tokens
        FROM c JOIN prof USING (account_id) ORDER BY c.account_id, c.prompt_hash""").df()
    con.unregister("_swx")
    return df


def pair_surprise(o: sp.csr_matrix, expected: sp.csr_matrix,
                  max_scale: float = 4.0) -> pd.DataFrame:
    """Per account pair sharing a region: topic matches ``overlap``, ``expected`` matches
    and surprise = -ln P(Poisson(expected) <= overlap). Rows i < j.

    The region expectation is degree-corrected per account: an account that shares topics
    with fewer other accounts than its regions' base rates predict (a person asking their own
    questions, or one whose matches are lumped on a few popular prompts) gets its
    expectations scaled by observed / expected *partners* (at most ``max_scale``), so only
    accounts that do meet the population at (or above) the base rate, yet not each other,
    look disjoint."""
    e = sp.triu(expected, k=1).tocoo()
    i, j, lam = e.row, e.col, e.data
    ov = np.asarray(o[i, j]).ravel() if len(i) else np.zeros(0)
    n = o.shape[0]
    hit, p_hit = (ov > 0).astype(np.float64), 1.0 - np.exp(-lam)
    obs = np.bincount(i, hit, n) + np.bincount(j, hit, n)
    pred = np.bincount(i, p_hit, n) + np.bincount(j, p_hit, n)
    cal = np.clip(obs / np.maximum(pred, 1e-12), 0.0, max_scale)
    lam = lam * np.sqrt(cal[i] * cal[j])
    surprise = -poisson.logcdf(ov, np.maximum(lam, 1e-12))
    return pd.DataFrame({"i": i, "j": j, "overlap": ov, "expected": lam, "surprise": surprise})


def pair_llr(overlap: np.ndarray, expected: np.ndarray, ratio: float) -> np.ndarray:
    """Log-likelihood ratio (nats) of "split one sweep" (matches ~ Poisson(ratio * expected))
    against "independent" (Poisson(expected)): expected (1 - ratio) + overlap ln(ratio)."""
    return expected * (1.0 - ratio) + overlap * np.log(ratio)


def _pair_matrix(pairs: pd.DataFrame, column: str, n: int) -> sp.csr_matrix:
    """Symmetric n x n matrix of one pair column."""
    m = sp.csr_matrix((pairs[column].to_numpy(dtype=np.float64),
                       (pairs["i"].to_numpy(), pairs["j"].to_numpy())), shape=(n, n))
    return (m + m.T).tocsr()


def _llr_matrix(pairs: pd.DataFrame, n: int) -> sp.csr_matrix:
    return _pair_matrix(pairs, "llr", n)


#: Largest component partitioned by the signed agglomeration (dense: n^2 floats, ~n^3 / 2 work).
SIGNED_MAX_NODES = 4000


def signed_communities(w: np.ndarray) -> list[list[int]]:
    """Greedy correlation clustering of a symmetric matrix of pair LLRs (0 = no evidence).

    Starts from single accounts and repeatedly merges the two sets whose summed LLR between
    them is largest, while it is positive: each merge is the largest gain in the log-likelihood
    of "these accounts split one sweep", so evidence *against* a pair (more shared topics
    than chance) counts as well as evidence for it; Louvain over positive edges alone chains
    groups that only sit next to each other. Returns index lists (of ``w``'s rows)."""
    n = w.shape[0]
    m = np.array(w, dtype=np.float64)
    np.fill_diagonal(m, -np.inf)
    alive = np.ones(n, dtype=bool)
    sets: list[list[int]] = [[i] for i in range(n)]
    while True:
        k = int(np.argmax(m))
        a, b = divmod(k, n)
        if not m[a, b] > 0:
            break
        m[a, :] += m[b, :]  # b's links now count for a
        m[:, a] += m[:, b]
        m[a, a] = -np.inf
        m[b, :] = -np.inf
        m[:, b] = -np.inf
        alive[b] = False
        sets[a] += sets[b]
        sets[b] = []
    return _refine(np.asarray(w, dtype=np.float64),
                   [sorted(s) for s, live in zip(sets, alive, strict=True) if live])


def _refine(w: np.ndarray, sets: list[list[int]], rounds: int = 20) -> list[list[int]]:
    """Local moves after the greedy merging: each account moves to the set (or to a set of its
    own) with which its summed LLR is largest, until no move gains (or ``rounds`` passes)."""
    n = w.shape[0]
    label = np.empty(n, dtype=np.int64)
    for k, s in enumerate(sets):
        label[s] = k
    w = w.copy()
    np.fill_diagonal(w, 0.0)
    for _ in range(rounds):
        moved = False
        for i in range(n):
            gain = np.bincount(label, weights=w[i], minlength=n)  # summed LLR with each set
            own = gain[label[i]]
            best = int(np.argmax(gain))
            if gain[best] > own + 1e-9 and gain[best] > 0:
                label[i], moved = best, True
            elif own < 0:  # better alone: an unused label
                label[i], moved = int(np.setdiff1d(np.arange(n), label)[0]), True
        if not moved:
            break
    return [np.flatnonzero(label == k).tolist() for k in np.unique(label)]


def _trim(llr: sp.csr_matrix, members: list[int]) -> list[int]:
    """Drop, one at a time, the member whose summed LLR with the others is most negative,
    until every member adds evidence (summed LLR > 0)."""
    ms = list(members)
    while len(ms) > 1:
        load = np.asarray(llr[ms][:, ms].sum(axis=1)).ravel()
        if load.min() > 0:
            break
        del ms[int(np.argmin(load))]
    return ms


def group_test(o: sp.csr_matrix, expected: sp.csr_matrix, members: list[int]) -> tuple[int, float, float]:
    """(matches inside, expected inside, surprise nats) of a set of accounts."""
    ms = np.asarray(members)
    obs = int(o[ms][:, ms].sum() // 2)
    lam = float(expected[ms][:, ms].sum() / 2.0)
    return obs, lam, float(-poisson.logcdf(obs, max(lam, 1e-12)))


def null_share(o: sp.csr_matrix, expected: sp.csr_matrix, members: list[int], pool: np.ndarray,
               surprise: float, draws: int, seed: int) -> float:
    """Share of random same-size sets from ``pool`` at least as surprising as the group.

    The pool is the group's neighbourhood (accounts linked to it by positive evidence, or
    all candidates with its request profile when that is small): if random sets of it
    look as disjoint, the expectation, not a coordination, is off."""
    k = len(members)
    if len(pool) < 2 * k:
        return 1.0
    g = np.random.default_rng(seed)
    sets = np.array([g.choice(pool, k, replace=False) for _ in range(draws)])
    if len(pool) > SIGNED_MAX_NODES:  # too big to densify: one set at a time
        hits = sum(group_test(o, expected, list(ms))[2] >= surprise for ms in sets)
        return hits / draws
    pool = np.sort(pool)
    at = np.searchsorted(pool, sets)  # (draws, k) positions in the pool
    rows, cols = at[:, :, None], at[:, None, :]
    obs = o[pool][:, pool].toarray()[rows, cols].sum(axis=(1, 2)) // 2
    lam = expected[pool][:, pool].toarray()[rows, cols].sum(axis=(1, 2)) / 2.0
    hits = int((-poisson.logcdf(obs, np.maximum(lam, 1e-12)) >= surprise).sum())
    return hits / draws


def search(con: duckdb.DuckDBPyConnection, p: ClusterParams, exclude: set[str],
           cache_root: Path) -> SweepResult:
    """Low-and-slow groups among accounts of the open window (see the module docstring)."""
    res = SweepResult()
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        res.seconds[name] = round(now - t, 2)
        t = now

    df = openings(con, p, exclude)
    lap("openings")
    uniq = df.drop_duplicates("prompt_hash").reset_index(drop=True)
    got = prompt_vectors(uniq["prompt_hash"].tolist(), cache_root, p)
    lap("vectors")
    if got is None:
        res.counts = {"candidates": int(df["account_id"].nunique()), "skipped_no_vectors": 1}
        return res
    res.vector_source = "embedding_cache"
    found, x = got
    pos = dict(zip(uniq["prompt_hash"][found], range(int(found.sum())), strict=True))
    x = x[found]
    df = df[df["prompt_hash"].isin(pos)]
    accounts = np.array(sorted(df["account_id"].unique()), dtype=object)
    idx = {a: k for k, a in enumerate(accounts)}
    # one row per (account, prompt): a prompt two accounts both sent counts for both
    rows = df["prompt_hash"].map(pos).to_numpy()
    owner = df["account_id"].map(idx).to_numpy()
    o, expected = topic_matches(x[rows], owner, len(accounts), p)
    lap("matches")
    pairs = pair_surprise(o, expected, p.sweep_max_scale)
    pairs["llr"] = pair_llr(pairs["overlap"].to_numpy(), pairs["expected"].to_numpy(),
                            p.sweep_overlap_ratio)
    lap("pairs")
    prof = df.drop_duplicates("account_id").set_index("account_id")
    profile = (prof["model"] + "|" + prof["max_tokens"]).reindex(accounts).to_numpy()
    groups, infos, edges = _groups(o, expected, pairs, profile, accounts, p)
    lap("groups")
    res.groups, res.group_info, res.edges = groups, infos, edges
    res.counts = {"candidates": int(len(accounts)), "opening_prompts": int(len(df)),
                  "topic_matches": int(o.sum() / 2), "pairs_sharing_a_block": int(len(pairs)),
                  "coverage_edges": int(len(edges)), "groups": len(groups),
}
    return res


def _groups(o: sp.csr_matrix, expected: sp.csr_matrix, pairs: pd.DataFrame,
            profile: np.ndarray, accounts: np.ndarray,
            p: ClusterParams) -> tuple[list[list[str]], list[dict], pd.DataFrame]:
    """Communities of the positive-evidence graph (pairs with LLR > 0 sharing the request
    profile; Louvain or the signed partition), trimmed, kept when the group test and its null
    pass: (groups, their figures, their edges)."""
    same = profile[pairs["i"].to_numpy()] == profile[pairs["j"].to_numpy()]
    pairs = pairs[same]
    llr = _llr_matrix(pairs, len(accounts))
    expected = _pair_matrix(pairs, "expected", len(accounts))  # degree-corrected
    pos = pairs[pairs["llr"] > 0]
    if pos.empty:
        return [], [], pd.DataFrame(columns=PAIR_COLUMNS)
    g = nx.Graph()
    g.add_weighted_edges_from(zip(pos["i"].tolist(), pos["j"].tolist(),
                                  pos["llr"].astype(float).tolist(), strict=True))
    stat = {(int(r.i), int(r.j)): r for r in pairs.itertuples(index=False)}
    groups: list[list[str]] = []
    infos: list[dict] = []
    rows: list[tuple] = []
    for cc in nx.connected_components(g):
        if len(cc) < p.sweep_min_group:
            continue
        pool = np.asarray(sorted(cc))
        if len(pool) < 4 * p.sweep_min_group:  # a small neighbourhood: same-profile candidates
            pool = np.flatnonzero(profile == profile[pool[0]])
        if p.sweep_partition == "signed" and len(cc) <= SIGNED_MAX_NODES:
            nodes = np.asarray(sorted(cc))
            sub = llr[nodes][:, nodes].toarray()
            parts = [nodes[s].tolist() for s in signed_communities(sub)]
        else:
            parts = nx.community.louvain_communities(g.subgraph(cc), weight="weight",
                                                     seed=p.seed)
        for part in parts:
            ms = _trim(llr, sorted(part))
            if len(ms) < p.sweep_min_group:
                continue
            obs, lam, surprise = group_test(o, expected, ms)
            if surprise < p.sweep_min_group_surprise:
                continue
            share = null_share(o, expected, ms, pool, surprise, p.sweep_null_draws, p.seed)
            if share > p.sweep_max_null_share:
                continue
            info = {"group_size": len(ms), "group_topic_matches": obs,
                    "group_expected_matches": round(lam, 1),
                    "group_surprise_nats": round(surprise, 1),
                    "random_sets_as_disjoint": round(share, 3)}
            groups.append(sorted(str(accounts[a]) for a in ms))
            infos.append(info)
            inside = [(a, b) for k, a in enumerate(ms) for b in ms[k + 1:]]
            rows += [_edge(accounts, stat[ab], profile, info) for ab in inside
                     if ab in stat and stat[ab].llr > 0]
    edges = pd.DataFrame(rows, columns=PAIR_COLUMNS) if rows else pd.DataFrame(
        columns=PAIR_COLUMNS)
    order = sorted(range(len(groups)), key=lambda k: (-len(groups[k]), groups[k][0]))
    return [groups[k] for k in order], [infos[k] for k in order], edges


def _edge(accounts: np.ndarray, r, profile: np.ndarray, info: dict) -> tuple:
    """A ``coverage`` edge: weight 1 - exp(-LLR), evidence of the pair and of its group."""
    a, b = str(accounts[r.i]), str(accounts[r.j])
    evidence = {"shared_topics": int(r.overlap), "expected_shared": round(float(r.expected), 2),
                "pair_llr_nats": round(float(r.llr), 2), "profile": str(profile[r.i]), **info}
    weight = float(1.0 - np.exp(-float(r.llr)))
    return (min(a, b), max(a, b), "coverage", weight, orjson.dumps(evidence).decode())
