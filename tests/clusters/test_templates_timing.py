"""Template (MinHash LSH), timing (lockstep, within-hour correlation) and centroid edges."""

from __future__ import annotations

import hashlib
import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from detector.clusters.templates import scaffold_rows, scaffold_sets, signatures, template_pairs
from detector.clusters.timing import MinuteMatrix, lockstep_stats, timing_pairs
from detector.clusters.window import embedding_edges

TOPICS = ["entropy", "mitosis", "tariffs", "sonnets", "glaciers", "recursion", "neurons",
          "baroque music", "mortgages", "quasars", "enzymes", "syntax trees"]
WRAP = ("You are asked to write a comprehensive tutorial about {t} for graduate students. "
        "Cover definitions, intuition, worked examples and practice problems with solutions.")


def _prompts_con(rows: list[tuple[str, str]]) -> duckdb.DuckDBPyConnection:
    df = pd.DataFrame(rows, columns=["account_id", "prompt_text"])
    df["prompt_hash"] = [hashlib.sha1(t.encode()).hexdigest() for t in df["prompt_text"]]
    con = duckdb.connect()
    con.register("_p", df)
    con.execute("CREATE TABLE win_text AS SELECT * FROM _p")
    return con


def _scaffolds(rows: list[tuple[str, str]], **kw) -> dict[str, np.ndarray]:
    args = {"sample": 8, "max_chars": 400, "max_accounts": 100}
    args.update(kw)
    return scaffold_sets(scaffold_rows(_prompts_con(rows), "win_text", **args))


def test_shared_wrapper_links_accounts_whose_topics_differ():
    rng = np.random.default_rng(0)
    rows = []
    for k, acct in enumerate(("h1", "h2", "h3")):
        rows += [(acct, WRAP.format(t=TOPICS[(4 * k + i) % len(TOPICS)])) for i in range(4)]
    # benign: free text, nothing repeated between its own prompts
    rows += [("b1", " ".join(rng.choice(list("abcdefghij"), 5)) + f" word{i} alpha{i} beta{i}")
             for i in range(4)]
    sets = _scaffolds(rows)
    assert set(sets) == {"h1", "h2", "h3"}  # b1 repeats nothing: no scaffold
    pairs = template_pairs(sets, threshold=0.5, num_perm=64, seed=0, cap=50)
    assert sorted(zip(pairs["src"], pairs["dst"], strict=True)) == [
        ("h1", "h2"), ("h1", "h3"), ("h2", "h3")]
    # the wrapper is identical, topics only vary in one slot: identical scaffolds, star edges
    ev = json.loads(pairs["evidence"][0])
    assert ev["jaccard"] == 1.0 and ev["identical_group"] == 3


def test_single_prompt_accounts_and_stop_shingles_make_no_scaffold():
    rows = [("solo", WRAP.format(t="entropy"))]
    rows += [(f"a{i}", WRAP.format(t=TOPICS[j])) for i in range(10) for j in range(2)]
    # ten accounts share the wrapper: over a fan-out cap of 5 it is a stock phrase
    sets = _scaffolds(rows, max_accounts=5)
    assert sets == {}
    assert "solo" not in _scaffolds(rows)


def test_minhash_estimate_tracks_true_jaccard():
    a = np.arange(0, 100, dtype=np.int64)
    b = np.arange(50, 150, dtype=np.int64)  # |a & b| = 50, |a | b| = 150: J = 1/3
    sig = signatures({"a": a, "b": b}, num_perm=256, seed=1)
    est = float((sig["a"] == sig["b"]).mean())
    assert est == pytest.approx(1 / 3, abs=0.1)
    assert template_pairs({"a": a, "b": b}, threshold=0.8, num_perm=64, seed=0, cap=10).empty


def _matrix(series: dict[str, list[int]], n_minutes: int) -> MinuteMatrix:
    rows = [(a, m, 1) for a, ms in series.items() for m in ms]
    df = pd.DataFrame(rows, columns=["account_id", "minute", "c"])
    df = df.groupby(["account_id", "minute"], as_index=False)["c"].sum()
    return MinuteMatrix.from_counts(df, 0, n_minutes)


def test_round_robin_pair_is_lockstep_independent_pair_is_not():
    rng = np.random.default_rng(3)
    stream = np.sort(rng.choice(1440, 120, replace=False))
    order = np.concatenate([rng.permutation(2) for _ in range(60)])  # one cycle = one of each
    mm = _matrix({"r1": list(stream[order == 0]), "r2": list(stream[order == 1]),
                  "i1": list(np.sort(rng.choice(1440, 60, replace=False))),
                  "i2": list(np.sort(rng.choice(1440, 60, replace=False)))}, 1440)
    pairs = pd.DataFrame({"src": ["r1", "i1"], "dst": ["r2", "i2"]})
    stats = lockstep_stats(mm, pairs, min_events=24, max_events=1000, max_lead=10_000)
    lead = dict(zip(stats["src"], stats["max_lead"], strict=True))
    assert lead["r1"] <= 2  # round robin: never more than one cycle ahead
    assert lead["i1"] > 2   # a random walk of 120 steps wanders further
    edges = timing_pairs(mm, pairs, min_corr=0.5, min_minutes=3,
                         lockstep=lockstep_stats(mm, pairs, 24, 1000, 2), max_lead=2)
    assert list(zip(edges["src"], edges["dst"], strict=True)) == [("r1", "r2")]
    assert json.loads(edges["evidence"][0])["max_lead"] <= 2


def test_within_hour_correlation_ignores_a_shared_daily_rhythm():
    rng = np.random.default_rng(5)
    busy = np.arange(9 * 60, 17 * 60)
    # both active only 9:00-17:00 but at independent minutes: same rhythm, no synchrony
    d1, d2 = (list(rng.choice(busy, 200, replace=False)) for _ in range(2))
    # bursts: the same 10 minutes of each hour, from two accounts
    burst = [h * 60 + m for h in range(24) for m in range(10)]
    mm = _matrix({"d1": d1, "d2": d2, "s1": burst, "s2": burst}, 1440)
    corr = mm.correlation(np.array([mm.index()["d1"], mm.index()["s1"]]),
                          np.array([mm.index()["d2"], mm.index()["s2"]]))
    assert abs(corr[0]) < 0.2
    assert corr[1] == pytest.approx(1.0)


def test_embedding_edges_start_at_the_cosine_threshold():
    cents = {"a": np.array([1.0, 0.0]), "b": np.array([0.96, 0.28]), "c": np.array([0.0, 1.0])}
    pairs = pd.DataFrame({"src": ["a", "a"], "dst": ["b", "c"]})
    out = embedding_edges(cents, pairs, min_cos=0.85)
    assert list(out["dst"]) == ["b"]
    assert out["weight"][0] == pytest.approx((0.96 - 0.85) / 0.15)
    assert embedding_edges({}, pairs, 0.85).empty
