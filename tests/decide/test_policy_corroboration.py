"""Corroborated blocks: several signal families flagging one account-day on their own."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from detector.decide.policy import PolicyConfig, apply_policy
from detector.decide.scoring import CORROBORATED_BLOCK_MIN_FAMILIES, policy_config
from detector.settings import Settings

D = dt.date(2026, 11, 24)
CFG = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50,
                   model_block_max_multiturn=0.5, model_block_max_end_users=20,
                   corroborated_block_min_families=3)


def frame(n, **cols):
    f = pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "date": [D] * n,
                      "cluster_id": [None] * n, "vol_requests": [400] * n,
                      "div_multiturn_share": [0.0] * n, "inf_distinct_end_users": [0] * n})
    for c, v in cols.items():
        f[c] = v
    return f


def hits(pairs, status="stable", shadow=False):
    return pd.DataFrame(
        [[a, D, f"id-{r}", r, "t", "review", "medium", status, 0.6, shadow] for a, r in pairs],
        columns=["account_id", "date", "rule_id", "rule_name", "title", "action", "severity",
                 "status", "score", "shadow"])


def test_three_families_block_two_review_and_one_familys_rules_count_once():
    h = hits([("a0", "harvest_x"), ("a0", "timing_y"), ("a0", "infra_z"),     # three families
              ("a1", "harvest_x"), ("a1", "timing_y"),                        # two
              ("a2", "harvest_x"), ("a2", "harvest_w"), ("a2", "harvest_v"),  # one, thrice
              ("a3", "harvest_x"), ("a3", "timing_y")])                       # two + the model
    out = apply_policy(frame(4), np.array([0.1, 0.1, 0.1, 0.6]), h, CFG)
    assert list(out["decision"]) == ["block", "review", "review", "block"]
    assert "corroborated_block" in out.loc[0, "sources"]
    assert "corroborated_block" in out.loc[3, "sources"]
    assert "corroborated_block" not in out.loc[1, "sources"]
    # the score is not lifted: the block is the policy's, the probability stays the model's
    assert out.loc[0, "score"] == pytest.approx(0.6)


def test_shadow_rules_do_not_corroborate():
    h = pd.concat([hits([("a0", "harvest_x"), ("a0", "timing_y")]),
                   hits([("a0", "coverage_z")], status="experimental", shadow=True)])
    out = apply_policy(frame(1), np.array([0.1]), h, CFG)
    assert out.loc[0, "decision"] == "review"


@pytest.mark.parametrize("cols", [
    {"vol_requests": [49]},                     # under the evidence floor
    {"div_multiturn_share": [0.5]},             # a day of conversations
    {"inf_distinct_end_users": [20]},           # a relay of identified end users
])
def test_the_guards_of_a_model_block_hold_a_corroborated_one(cols):
    h = hits([("a0", "harvest_x"), ("a0", "timing_y"), ("a0", "infra_z")])
    out = apply_policy(frame(1, **cols), np.array([0.95]), h, CFG)
    assert out.loc[0, "decision"] == "review"
    assert "corroborated_block" not in out.loc[0, "sources"]


def test_the_evidence_floor_counts_the_week_and_the_cluster():
    h = hits([(a, r) for a in ("a0", "a1") for r in ("harvest_x", "timing_y", "infra_z")])
    f = frame(3, vol_requests=[20, 30, 30], w7_vol_requests=[60, 30, 30],
              cluster_id=[None, "c1", "c1"])
    out = apply_policy(f, np.array([0.1, 0.1, 0.1]), h, CFG)
    # a0: its week holds 60; a1: its cluster's day holds 60; a2 has no hit
    assert list(out["decision"]) == ["block", "block", "allow"]


def test_a_capped_model_block_that_corroboration_blocks_is_not_marked_capped():
    h = hits([("a0", "harvest_x"), ("a0", "timing_y")])
    # a one-burst day holds the model's block; two rules' families and the model still block
    cfg = PolicyConfig(**{**CFG.__dict__, "model_block_min_hour_entropy": 1.0})
    out = apply_policy(frame(1, tim_hour_entropy=[0.5]), np.array([0.95]), h, cfg)
    assert out.loc[0, "decision"] == "block"
    assert out.loc[0, "sources"] == ["harvest_x", "timing_y", "model", "corroborated_block"]


def test_allow_list_overrides_a_corroborated_block():
    h = hits([("a0", "harvest_x"), ("a0", "timing_y"), ("a0", "infra_z")])
    out = apply_policy(frame(1), np.array([0.1]), h, CFG, allow_accounts={"a0"})
    assert out.loc[0, "decision"] == "allow"


@pytest.mark.parametrize("value", [1, 0, 2.5, True])
def test_min_families_is_validated(value):
    with pytest.raises(ValueError, match="corroborated_block_min_families"):
        PolicyConfig(review_threshold=0.5, block_threshold=0.9,
                     corroborated_block_min_families=value)


def test_the_shipped_policy_corroborates_at_three_families(tmp_path):
    cfg = policy_config(Settings(home=tmp_path), {})
    assert cfg.corroborated_block_min_families == CORROBORATED_BLOCK_MIN_FAMILIES == 3


def test_a_model_review_its_own_guards_drop_does_not_corroborate():
    # one burst, under the block score: the model's review is dropped (a benchmark run's day),
    # so two rule families alone stay at review
    cfg = PolicyConfig(**{**CFG.__dict__, "model_block_min_hour_entropy": 1.0,
                          "burst_review_min_score": 0.9})
    h = hits([("a0", "harvest_x"), ("a0", "timing_y")])
    out = apply_policy(frame(1, tim_hour_entropy=[0.5]), np.array([0.7]), h, cfg)
    assert out.loc[0, "decision"] == "review"
    assert out.loc[0, "sources"] == ["harvest_x", "timing_y"]
    # spread over the day, the same review counts
    out = apply_policy(frame(1, tim_hour_entropy=[3.0]), np.array([0.7]), h, cfg)
    assert out.loc[0, "decision"] == "block"


def test_families_of_one_evidence_group_count_once():
    # a tutoring app: diverse single-turn questions with long answers (a diversity rule and a
    # volume rule read that one trait) and step-by-step wording (a harvest rule); the model
    # disagrees. Two lines of evidence, not three: reviewed
    cfg = PolicyConfig(**{**CFG.__dict__, "corroborated_same_evidence": (("diversity", "volume"),)})
    h = hits([("a0", "diversity_x"), ("a0", "volume_y"), ("a0", "harvest_z"),
              ("a1", "diversity_x"), ("a1", "volume_y"), ("a1", "harvest_z"), ("a1", "timing_w")])
    out = apply_policy(frame(2), np.array([0.001, 0.001]), h, cfg)
    assert list(out["decision"]) == ["review", "block"]
    assert "corroborated_block" not in out.loc[0, "sources"]
    # without the group the same three families block
    out = apply_policy(frame(2), np.array([0.001, 0.001]), h, CFG)
    assert list(out["decision"]) == ["block", "block"]


def test_the_shipped_policy_counts_diversity_and_volume_as_one_line(tmp_path):
    cfg = policy_config(Settings(home=tmp_path), {})
    assert cfg.corroborated_same_evidence == (("diversity", "volume"),)


@pytest.mark.parametrize("groups", [
    (("diversity",),),                                  # a group of one
    (("diversity", "diversity"),),                      # not distinct
    (("diversity", "volume"), ("volume", "timing")),    # not disjoint
    ("diversity",),                                     # not a tuple of tuples
    (("diversity", ""),),                               # an empty name
    (("diversity", "volumes"),),                        # not a rule family (a typo)
])
def test_same_evidence_groups_are_validated(groups):
    with pytest.raises(ValueError, match="corroborated_same_evidence"):
        PolicyConfig(review_threshold=0.5, block_threshold=0.9, corroborated_same_evidence=groups)
