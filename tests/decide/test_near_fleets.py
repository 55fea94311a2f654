"""Near fleets: accounts sharing a network key and a prompt scaffold in the day's account graph,
linked or not, each with a harvesting request profile, are reviewed together; blocked with five
or more members, half of them flagged on their own, none a relay."""

from __future__ import annotations

import datetime as dt
import json
from itertools import combinations

import pandas as pd
import pytest

from detector.clusters import store
from detector.decide import near_fleets
from detector.decide.policy import PolicyConfig
from detector.settings import load_settings

DAY = "2026-11-02"
CFG = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_max_end_users=20)
HARVEST = {"vol_requests": 40.0, "hv_cot_lexicon_share": 1.0, "hv_high_effort_share": 0.0,
           "hv_max_tokens_high_share": 1.0, "div_multiturn_share": 0.0,
           "div_distinct_prompt_ratio": 1.0, "hv_output_input_ratio": 20.0,
           "inf_distinct_end_users": 0.0}


@pytest.fixture
def home(tmp_path):
    s = load_settings(tmp_path / "home")
    s.ensure_dirs()
    return s


def rows(accounts: dict[str, dict], decisions: dict[str, str] | None = None
         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(frame, out) of one day: each account with ``HARVEST`` updated by its dict, allowed
    unless ``decisions`` says otherwise."""
    decisions = decisions or {}
    names = list(accounts)
    frame = pd.DataFrame([{"account_id": a, "date": dt.date.fromisoformat(DAY),
                           **(HARVEST | accounts[a])} for a in names])
    out = pd.DataFrame({"account_id": names, "date": frame["date"],
                        "decision": [decisions.get(a, "allow") for a in names],
                        "sources": [["model"] if decisions.get(a, "allow") != "allow" else []
                                    for a in names],
                        "allowlisted": [False] * len(names)})
    return frame, out


def write_edges(settings, pairs: list[tuple[str, str]], template: float = 0.7,
                network: float = 0.29, network_type: str = "prefix") -> None:
    """The day's edge table: a template and a network edge for each pair."""
    recs = []
    for a, b in pairs:
        src, dst = sorted((a, b))
        for kind, weight in (("template", template), (network_type, network)):
            if weight is not None:
                recs.append({"src": src, "dst": dst, "edge_type": kind,
                             "family": "content" if kind == "template" else "network",
                             "window": 1, "weight": weight, "evidence": "{}",
                             "pair_score": 1.0, "linked": False, "date": DAY})
    folder = store.day_dir(settings, DAY)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(recs).to_parquet(folder / "edges.parquet")


def fleet(n: int, prefix: str = "f") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_a_fleet_of_five_half_flagged_is_blocked_whole(home):
    names = fleet(6)
    frame, out = rows({a: {} for a in [*names, "other"]},
                      {a: "review" for a in names[:3]})
    write_edges(home, list(combinations(names, 2)))
    found = near_fleets.judge(home, frame, out, CFG)
    assert sorted(found) == list(range(6))
    ev = found[0]
    assert ev["block"] and ev["size"] == 6 and ev["members"] == names
    assert ev["flagged_share"] == 0.5 and ev["pairs"] == 15 and ev["relays"] == 0
    got = near_fleets.apply(out, found)
    assert list(got["decision"]) == ["block"] * 6 + ["allow"]
    assert all(s[-1] == "near_fleet" for s in got["sources"][:6])
    doc = json.loads(near_fleets.annotate(["{}"] * 7, found)[5])
    assert doc["near_fleet"]["size"] == 6


def test_under_half_flagged_or_under_five_the_fleet_is_reviewed(home):
    names = fleet(6)
    frame, out = rows({a: {} for a in names}, {names[0]: "review", names[1]: "review"})
    write_edges(home, list(combinations(names, 2)))
    found = near_fleets.judge(home, frame, out, CFG)
    assert len(found) == 6 and not any(ev["block"] for ev in found.values())
    assert list(near_fleets.apply(out, found)["decision"]) == ["review"] * 6
    frame, out = rows({a: {} for a in names[:4]}, {a: "review" for a in names[:4]})
    found = near_fleets.judge(home, frame, out, CFG)  # the edges of the absent two are ignored
    assert len(found) == 4 and not found[0]["block"] and found[0]["flagged_share"] == 1.0


def test_two_accounts_are_no_fleet_and_a_chain_is_one(home):
    frame, out = rows({a: {} for a in fleet(2)})
    write_edges(home, [("f0", "f1")])
    assert near_fleets.judge(home, frame, out, CFG) == {}
    frame, out = rows({a: {} for a in fleet(3)})
    write_edges(home, [("f0", "f1"), ("f1", "f2")])  # f0 and f2 share nothing directly
    assert sorted(near_fleets.judge(home, frame, out, CFG)) == [0, 1, 2]


@pytest.mark.parametrize("template, network, kind", [
    (0.49, 0.29, "prefix"),   # a scaffold under the bar
    (0.9, None, "prefix"),    # no shared network
    (None, 0.5, "ip"),        # a network without a scaffold
    (0.9, 0.5, "fingerprint"),  # another family is not a network
])
def test_a_fleet_needs_a_scaffold_and_a_network(home, template, network, kind):
    names = fleet(5)
    frame, out = rows({a: {} for a in names}, {a: "review" for a in names})
    write_edges(home, list(combinations(names, 2)), template=template, network=network,
                network_type=kind)
    assert near_fleets.judge(home, frame, out, CFG) == {}


@pytest.mark.parametrize("trait, value", [
    ("vol_requests", 9), ("hv_cot_lexicon_share", 0.7), ("hv_max_tokens_high_share", 0.7),
    ("div_multiturn_share", 0.2), ("div_distinct_prompt_ratio", 0.5),
    ("hv_output_input_ratio", 3.0), ("hv_cot_lexicon_share", None)])
def test_a_member_needs_the_whole_harvesting_profile(trait, value):
    frame, _ = rows({"a": {trait: value}, "b": {}})
    assert list(near_fleets.members(frame)) == [False, True]


def test_high_effort_counts_as_asking_for_reasoning():
    frame, _ = rows({"a": {"hv_cot_lexicon_share": 0.1, "hv_high_effort_share": 0.9}})
    assert near_fleets.members(frame).all()


def test_coding_agents_and_benchmark_runs_are_not_members():
    """A coding agent asks for reasoning and long outputs but re-sends its loop's prompts and
    reads more than it writes; a benchmark run repeats its questions per model."""
    frame, _ = rows({"agent": {"div_distinct_prompt_ratio": 0.02, "hv_output_input_ratio": 3.0},
                     "bench": {"div_distinct_prompt_ratio": 0.5}})
    assert not near_fleets.members(frame).any()


def test_a_fleet_with_a_relay_member_is_reviewed_not_blocked(home):
    names = fleet(5)
    frame, out = rows({a: ({"inf_distinct_end_users": 30.0} if a == "f4" else {})
                       for a in names}, {a: "review" for a in names})
    write_edges(home, list(combinations(names, 2)))
    found = near_fleets.judge(home, frame, out, CFG)
    assert found[0]["relays"] == 1 and not found[0]["block"]


def test_non_members_and_allow_listed_rows_are_left_out(home):
    names = fleet(6)
    frame, out = rows({a: ({"hv_cot_lexicon_share": 0.2} if a == "f5" else {}) for a in names},
                      {a: "review" for a in names})
    out.loc[4, "allowlisted"] = True
    write_edges(home, list(combinations(names, 2)))
    found = near_fleets.judge(home, frame, out, CFG)
    assert sorted(found) == [0, 1, 2, 3] and found[0]["size"] == 4 and not found[0]["block"]


def test_a_day_without_edges_finds_nothing(home):
    frame, out = rows({a: {} for a in fleet(5)}, {a: "review" for a in fleet(5)})
    assert near_fleets.judge(home, frame, out, CFG) == {}
