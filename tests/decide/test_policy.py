import datetime as dt

import numpy as np
import pandas as pd
import pytest

from detector.decide.policy import PolicyConfig, apply_policy

D = dt.date(2026, 11, 24)
CFG = PolicyConfig(review_threshold=0.5, block_threshold=0.9)


def frame(ids, clusters=None, orgs=None):
    f = pd.DataFrame({"account_id": ids, "date": [D] * len(ids)})
    f["cluster_id"] = clusters if clusters is not None else [None] * len(ids)
    if orgs is not None:
        f["org_id"] = orgs
    return f


def hits(rows):
    return pd.DataFrame(rows, columns=["account_id", "date", "rule_id", "rule_name", "title",
                                       "action", "severity", "status", "score", "shadow"])


def test_model_thresholds_map_to_ordered_decisions():
    out = apply_policy(frame(["a", "b", "c"]), np.array([0.1, 0.6, 0.95]), hits([]), CFG)
    assert list(out["decision"]) == ["allow", "review", "block"]
    assert list(out["score"]) == [0.1, 0.6, 0.95]


def test_strongest_source_wins_and_rule_score_lifts_the_score():
    h = hits([["a", D, "u1", "harvest_x", "t", "block", "high", "stable", 0.97, False],
              ["b", D, "u2", "timing_y", "t", "review", "low", "test", None, False]])
    out = apply_policy(frame(["a", "b"]), np.array([0.2, 0.95]), h, CFG)
    assert list(out["decision"]) == ["block", "block"]  # rule block beats model allow; model block beats rule review
    assert out.loc[0, "score"] == pytest.approx(0.97)
    assert out.loc[0, "rule_hits"] == ["harvest_x"]
    assert out.loc[1, "sources"] == ["timing_y", "model"]


def test_experimental_rules_are_shadow_only():
    h = hits([["a", D, "u1", "coverage_z", "t", "block", "high", "experimental", 0.99, True]])
    out = apply_policy(frame(["a"]), np.array([0.1]), h, CFG)
    assert out.loc[0, "decision"] == "allow"
    assert out.loc[0, "score"] == pytest.approx(0.1)
    assert out.loc[0, "shadow_hits"] == ["coverage_z"]
    assert out.loc[0, "rule_hits"] == []


def test_cluster_escalation_flags_the_clean_heads_of_a_flagged_cluster():
    ids = ["h1", "h2", "h3", "h4", "x"]
    f = frame(ids, clusters=["c1", "c1", "c1", "c1", None])
    out = apply_policy(f, np.array([0.6, 0.7, 0.8, 0.1, 0.1]), hits([]), CFG)
    assert list(out["decision"]) == ["review", "review", "review", "review", "allow"]
    assert "cluster_escalation" in out.loc[3, "sources"]


def test_small_or_mostly_clean_clusters_do_not_escalate():
    f = frame(["a", "b", "c", "d"], clusters=["c1", "c1", "c1", "c1"])
    out = apply_policy(f, np.array([0.6, 0.1, 0.1, 0.1]), hits([]), CFG)
    assert list(out["decision"]) == ["review", "allow", "allow", "allow"]


def test_a_wholly_flagged_cluster_with_a_blocked_share_is_blocked_whole():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.9, cluster_flagged_block_share=0.4)
    ids = ["b1", "b2", "b3", "r1", "r2", "r3", "r4", "p1", "p2", "p3", "p4", "p5"]
    f = frame(ids, clusters=["c1"] * 7 + ["c2"] * 5)
    # c1: all seven flagged, three (43%) blocked on their own -> the four reviewed are blocked
    # c2: two of five blocked but one member clean -> no block escalation (and 40% < 80%)
    scores = np.array([0.95, 0.95, 0.95, 0.6, 0.6, 0.6, 0.6, 0.95, 0.95, 0.6, 0.6, 0.1])
    out = apply_policy(f, scores, hits([]), cfg)
    assert list(out["decision"][:7]) == ["block"] * 7
    assert "cluster_escalation" in out.loc[3, "sources"]
    assert list(out["decision"][7:]) == ["block", "block", "review", "review", "review"]
    # without the setting the all-flagged cluster needs 80% blocked
    plain = apply_policy(f, scores, hits([]), CFG)
    assert list(plain["decision"][:7]) == ["block"] * 3 + ["review"] * 4


def test_a_wholly_flagged_cluster_under_the_blocked_share_stays_reviewed():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.9, cluster_flagged_block_share=0.4)
    f = frame(["a", "b", "c", "d", "e", "s1", "s2"], clusters=["c1"] * 5 + ["c2"] * 2)
    # c1: one of five blocked (20%); c2: two accounts are below the cluster minimum of three
    out = apply_policy(f, np.array([0.95, 0.6, 0.6, 0.6, 0.6, 0.95, 0.6]), hits([]), cfg)
    assert list(out["decision"]) == ["block", "review", "review", "review", "review", "block",
                                     "review"]


def test_a_cluster_whose_every_member_a_rule_flags_is_blocked_from_the_minimum_size():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.9,
                       cluster_rule_flagged_block_min_size=5)
    ids = [f"f{i}" for i in range(6)] + [f"g{i}" for i in range(6)] + [f"s{i}" for i in range(4)]
    f = frame(ids, clusters=["c1"] * 6 + ["c2"] * 6 + ["c3"] * 4)
    rule = [[a, D, "u1", "harvest_x", "t", "review", "medium", "test", 0.7, False]
            for a in ids if a != "g5"]
    out = apply_policy(f, np.full(len(ids), 0.1), hits(rule), cfg)
    # c1: six linked accounts, each reviewed by a rule on its own day -> all blocked
    assert list(out["decision"][:6]) == ["block"] * 6
    assert "cluster_escalation" in out.loc[0, "sources"]
    # c2: one member no rule flags -> reviewed (most flagged), not blocked
    assert list(out["decision"][6:12]) == ["review"] * 6
    # c3: every member ruled, but four is under the minimum size
    assert list(out["decision"][12:]) == ["review"] * 4
    # the model's reviews are not rules: the same cluster flagged by the model alone stays review
    by_model = apply_policy(f, np.array([0.6] * 6 + [0.1] * 10), hits([]), cfg)
    assert list(by_model["decision"][:6]) == ["review"] * 6
    # off by default
    assert list(apply_policy(f, np.full(len(ids), 0.1), hits(rule), CFG)["decision"][:6]) == [
        "review"] * 6
    with pytest.raises(ValueError, match="cluster_rule_flagged_block_min_size: expected None or a"):
        PolicyConfig(review_threshold=0.5, block_threshold=0.9,
                     cluster_rule_flagged_block_min_size=1)


def test_cluster_flagged_block_share_must_be_a_share():
    with pytest.raises(ValueError, match="cluster_flagged_block_share"):
        PolicyConfig(review_threshold=0.5, block_threshold=0.9, cluster_flagged_block_share=1.5)


def test_allowlist_overrides_everything_by_account_or_org():
    h = hits([["a", D, "u1", "harvest_x", "t", "block", "high", "stable", 0.99, False]])
    out = apply_policy(frame(["a", "b"], orgs=[None, "org_ok"]), np.array([0.95, 0.95]), h, CFG,
                       allow_accounts={"a"}, allow_orgs={"org_ok"})
    assert list(out["decision"]) == ["allow", "allow"]
    assert out.loc[0, "sources"] == ["allowlisted"]


def test_policy_config_validates_thresholds():
    with pytest.raises(ValueError, match="review_threshold <= block_threshold"):
        PolicyConfig(review_threshold=0.9, block_threshold=0.5)


def test_model_only_block_on_thin_evidence_is_capped_at_review():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50)
    f = frame(["thin", "thick", "ruled"])
    f["vol_requests"] = [12, 50, 12]
    h = hits([["ruled", D, "u1", "harvest_x", "t", "block", "high", "stable", 0.97, False]])
    out = apply_policy(f, np.array([0.99, 0.99, 0.99]), h, cfg)
    # 12 requests: the model alone reviews; 50 requests: it blocks; a blocking rule still blocks.
    assert list(out["decision"]) == ["review", "block", "block"]
    assert out.loc[0, "sources"] == ["model", "model_block_capped"]  # the analyst sees why
    assert out.loc[1, "sources"] == ["model"]
    assert out.loc[0, "score"] == pytest.approx(0.99)


def test_model_block_min_requests_is_validated():
    with pytest.raises(ValueError, match="model_block_min_requests"):
        PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=-1)


def test_model_only_block_on_a_single_burst_is_capped_at_review():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50,
                       model_block_min_hour_entropy=1.0)
    f = frame(["burst", "all_day", "two_hours", "thin_day", "hydra", "unknown"],
              clusters=[None, None, None, None, "c1", None])
    f["vol_requests"] = [448, 448, 448, 20, 448, 448]
    f["w7_vol_requests"] = [448, 448, 448, 140, 448, 448]
    f["tim_hour_entropy"] = [0.11, 4.2, 1.0, 0.0, 0.0, None]
    out = apply_policy(f, np.full(6, 0.99), hits([]), cfg)
    # one benchmark-like burst: reviewed, the analyst sees the cap; two equally busy hours
    # are enough spread; a day under the floor blocked on its week, a cluster member and a day
    # whose spread is unknown are not held by this guard
    assert list(out["decision"]) == ["review", "block", "block", "block", "block", "block"]
    assert out.loc[0, "sources"] == ["model", "model_block_capped"]


def test_model_block_min_hour_entropy_is_validated():
    with pytest.raises(ValueError, match="model_block_min_hour_entropy"):
        PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_hour_entropy=5.0)


def test_model_only_block_of_a_relay_with_many_end_users_is_capped_at_review():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_max_end_users=20)
    f = frame(["relay", "operator", "ruled_relay"])
    f["vol_requests"] = [5000, 5000, 5000]
    f["inf_distinct_end_users"] = [20, 19, 400]
    h = hits([["ruled_relay", D, "u1", "harvest_x", "t", "block", "high", "stable", 0.97, False]])
    out = apply_policy(f, np.array([0.95, 0.95, 0.95]), h, cfg)
    assert list(out["decision"]) == ["review", "block", "block"]


def test_a_cluster_pools_its_members_evidence_for_a_model_block():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50)
    f = frame(["h1", "h2", "h3", "lone"], clusters=["c1", "c1", "c1", None])
    f["vol_requests"] = [20, 20, 20, 20]
    out = apply_policy(f, np.array([0.99, 0.99, 0.99, 0.99]), hits([]), cfg)
    # the cluster's 60 requests back each member's block; the lone 20-request account is reviewed
    assert list(out["decision"]) == ["block", "block", "block", "review"]


def test_an_accounts_week_backs_a_model_block_its_day_alone_cannot():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50)
    f = frame(["slow_week", "slow_new", "no_window"])
    f["vol_requests"] = [20, 20, 20]
    f["w7_vol_requests"] = [140, 20, None]
    out = apply_policy(f, np.array([0.99, 0.99, 0.99]), hits([]), cfg)
    # 20 requests today but 140 over the week the w7 features read: the score rests on 140;
    # a first day (or a frame without the window column) stays at review
    assert list(out["decision"]) == ["block", "review", "review"]
    assert out.loc[1, "sources"] == ["model", "model_block_capped"]


def test_under_the_floor_a_confident_one_shot_day_is_blocked_at_the_stricter_bar():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_min_requests=50,
                       model_block_min_hour_entropy=1.0, model_block_max_multiturn=0.5,
                       thin_block_min_requests=10, strict_block_min_score=0.95,
                       model_block_max_end_users=20)
    ids = ["ring", "chatty", "unsure", "tiny", "burst", "spread_unknown", "ring_relay"]
    f = frame(ids)
    f["vol_requests"] = [14, 21, 14, 9, 14, 14, 14]
    f["div_multiturn_share"] = [0.1, 0.71, 0.1, 0.1, 0.1, 0.1, 0.1]
    f["tim_hour_entropy"] = [2.9, 2.3, 2.9, 2.9, 0.5, None, 2.9]
    f["inf_distinct_end_users"] = [0, 0, 0, 0, 0, 0, 25]
    score = np.array([0.99, 0.99, 0.9, 0.99, 0.99, 0.99, 0.99])
    out = apply_policy(f, score, hits([]), cfg)
    # 14 one-shot questions over the day at 0.99: blocked, and the analyst sees on what; a
    # conversation, a score under the stricter bar, under 10 requests, one burst, an unknown
    # spread and a relay stay at review (the floor's cap)
    assert list(out["decision"]) == ["block"] + ["review"] * 6
    assert out.loc[0, "sources"] == ["model", "model_block_thin_evidence"]
    assert all(s == ["model", "model_block_capped"] for s in out["sources"][1:])


def test_a_thin_evidence_block_needs_the_thin_score():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_min_requests=50,
                       model_block_min_hour_entropy=1.0, thin_block_min_requests=10,
                       strict_block_min_score=0.95, thin_block_min_score=0.99)
    ids = ["chat_user", "ring", "week_backed", "thick"]
    f = frame(ids)
    f["vol_requests"] = [10, 14, 14, 80]
    f["w7_vol_requests"] = [10, 14, 90, 80]
    f["tim_hour_entropy"] = [2.3] * 4
    out = apply_policy(f, np.array([0.963, 0.995, 0.963, 0.963]), hits([]), cfg)
    # ten questions at 0.963: reviewed (the floor's cap); the ring member on the top step is
    # blocked; a thin day backed by its week and a day over the floor keep the strict bar
    assert list(out["decision"]) == ["review", "block", "block", "block"]
    assert out.loc[0, "sources"] == ["model", "model_block_capped"]
    assert out.loc[1, "sources"] == ["model", "model_block_thin_evidence"]
    # unset, the thin tier uses the strict score
    plain = apply_policy(f, np.array([0.963, 0.995, 0.963, 0.963]), hits([]),
                         PolicyConfig(review_threshold=0.5, block_threshold=0.8,
                                      model_block_min_requests=50,
                                      model_block_min_hour_entropy=1.0,
                                      thin_block_min_requests=10, strict_block_min_score=0.95))
    assert plain.loc[0, "decision"] == "block"
    with pytest.raises(ValueError, match="thin_block_min_score"):
        PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_min_requests=50,
                     thin_block_min_requests=10, strict_block_min_score=0.95,
                     thin_block_min_score=0.9)


def test_a_thin_evidence_block_needs_few_follow_ups():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_min_requests=50,
                       model_block_min_hour_entropy=1.0, thin_block_min_requests=10,
                       strict_block_min_score=0.95, thin_block_max_multiturn=0.4,
                       model_block_max_multiturn=0.5)
    ids = ["chatting", "ring", "unknown", "thick_chat"]
    f = frame(ids)
    f["vol_requests"] = [14, 15, 14, 80]
    f["tim_hour_entropy"] = [2.0] * 4
    f["div_multiturn_share"] = [0.43, 0.33, None, 0.43]
    out = apply_policy(f, np.full(4, 1.0), hits([]), cfg)
    # 14 requests, 43% follow-ups: reviewed; a ring member with a third, or with the share
    # unknown, is blocked; over the floor only the conversation guard (0.5) applies
    assert list(out["decision"]) == ["review", "block", "block", "block"]
    assert out.loc[0, "sources"] == ["model", "model_block_capped"]
    with pytest.raises(ValueError, match="thin_block_max_multiturn"):
        PolicyConfig(review_threshold=0.5, block_threshold=0.8, thin_block_max_multiturn=0.0)


def test_a_thin_evidence_block_from_a_shared_network_is_reviewed():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_min_requests=50,
                       model_block_min_hour_entropy=1.0, thin_block_min_requests=10,
                       strict_block_min_score=0.95, thin_block_max_shared_network=0.9)
    ids = ["campus_nat", "ring", "ring_half_shared", "no_ip", "campus_thick"]
    f = frame(ids)
    f["vol_requests"] = [14, 14, 14, 14, 80]
    f["tim_hour_entropy"] = [2.9] * 5
    f["inf_shared_prefix_share"] = [1.0, 0.0, 0.53, None, 1.0]
    out = apply_policy(f, np.array([0.99] * 5), hits([]), cfg)
    # 14 requests all behind a NAT other accounts use: reviewed (the floor's cap); a ring
    # member on its own addresses, one of which happens to be shared, or with no address known
    # is blocked; over the floor the thin tier does not apply
    assert list(out["decision"]) == ["review", "block", "block", "block", "block"]
    assert out.loc[0, "sources"] == ["model", "model_block_capped"]
    assert out.loc[1, "sources"] == ["model", "model_block_thin_evidence"]


def test_the_thin_evidence_bar_is_off_unless_configured():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_min_requests=50)
    f = frame(["ring"])
    f["vol_requests"], f["div_multiturn_share"], f["tim_hour_entropy"] = [14], [0.0], [3.0]
    out = apply_policy(f, np.array([1.0]), hits([]), cfg)
    assert list(out["decision"]) == ["review"]


def test_a_model_only_block_of_a_day_of_conversations_is_capped_at_review():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_max_multiturn=0.5)
    f = frame(["chat", "pairs", "unknown", "ruled_chat"])
    f["vol_requests"] = [91, 900, 300, 91]
    f["div_multiturn_share"] = [0.76, 0.05, None, 0.76]
    h = hits([["ruled_chat", D, "u1", "harvest_x", "t", "block", "high", "stable", 0.97, False]])
    out = apply_policy(f, np.array([0.83, 0.83, 0.83, 0.83]), h, cfg)
    # a heavy chat user's conversations: reviewed, the analyst sees the cap; prompt-answer pairs
    # and an unknown share are blocked; a blocking rule still blocks
    assert list(out["decision"]) == ["review", "block", "block", "block"]
    assert out.loc[0, "sources"] == ["model", "model_block_capped"]


def test_a_model_only_block_on_one_working_session_needs_the_strict_score():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_min_requests=50,
                       model_block_min_hour_entropy=1.0, session_block_max_hour_entropy=2.585,
                       strict_block_min_score=0.95)
    ids = ["bench_run", "sure_job", "all_day", "in_cluster", "week_backed"]
    f = frame(ids, clusters=[None, None, None, "c1", None])
    f["vol_requests"] = [900, 900, 900, 900, 30]
    f["w7_vol_requests"] = [900, 900, 900, 900, 200]
    f["tim_hour_entropy"] = [1.01, 1.01, 4.2, 1.01, 1.01]
    out = apply_policy(f, np.array([0.917, 0.99, 0.917, 0.917, 0.917]), hits([]), cfg)
    # a few hours' run at the step that holds benchmark runs and harvesters alike: reviewed;
    # a stricter score, a day-long spread, a cluster or a week behind the score still block
    assert list(out["decision"]) == ["review", "block", "block", "block", "block"]
    assert out.loc[0, "sources"] == ["model", "model_block_capped"]


def test_a_model_only_block_on_one_working_session_can_need_a_higher_score_of_its_own():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_min_requests=50,
                       model_block_min_hour_entropy=1.0, session_block_max_hour_entropy=2.585,
                       strict_block_min_score=0.95, session_block_min_score=0.97)
    ids = ["research_session", "sure_session", "all_day", "in_cluster"]
    f = frame(ids, clusters=[None, None, None, "c1"])
    f["vol_requests"] = [4056, 120, 4056, 4056]
    f["w7_vol_requests"] = [4056, 120, 4056, 4056]
    f["tim_hour_entropy"] = [1.45, 2.3, 4.2, 1.45]
    out = apply_policy(f, np.array([0.963, 0.97, 0.963, 0.963]), hits([]), cfg)
    # a session at the step under the session score is reviewed, the analyst sees the cap; the
    # session score itself blocks; a day-long spread or a cluster's member needs only the block
    # threshold
    assert list(out["decision"]) == ["review", "block", "block", "block"]
    assert out.loc[0, "sources"] == ["model", "model_block_capped"]


def test_a_model_only_review_of_one_burst_needs_the_block_score():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50,
                       model_block_min_hour_entropy=1.0, burst_review_min_score=0.9)
    ids = ["bench_run", "sure_burst", "spread", "small_sitting", "in_cluster", "ruled", "unknown"]
    f = frame(ids, clusters=[None, None, None, None, "c1", None, None])
    f["vol_requests"] = [448, 448, 448, 12, 448, 448, 448]
    f["tim_hour_entropy"] = [0.11, 0.11, 2.9, 0.0, 0.11, 0.11, None]
    h = hits([["ruled", D, "u1", "harvest_x", "t", "review", "high", "stable", 0.7, False]])
    out = apply_policy(f, np.array([0.74, 0.95, 0.74, 0.74, 0.74, 0.74, 0.74]), h, cfg)
    # one sitting of a benchmark run at 0.74: allowed; at the block score it stays reviewed
    # (the burst guard caps the block); a spread day, a day under the floor (a person's
    # sitting), a cluster's member, a rule's review and an unknown spread are untouched
    assert list(out["decision"]) == ["allow", "review", "review", "review", "review", "review",
                                     "review"]
    assert out.loc[0, "sources"] == [] and out.loc[1, "sources"] == ["model", "model_block_capped"]


def test_a_model_only_review_of_a_day_comparing_models_needs_the_block_score():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50,
                       model_block_min_hour_entropy=1.0, burst_review_min_score=0.9,
                       comparison_max_top_model_share=0.75, comparison_max_prompt_ratio=0.6)
    ids = ["harness", "sure", "one_model", "new_prompts", "lopsided", "in_cluster", "ruled"]
    f = frame(ids, clusters=[None] * 5 + ["c1", None])
    f["vol_requests"] = [2888] * 7
    f["tim_hour_entropy"] = [3.0] * 7  # spread over the day: not a burst
    f["vol_distinct_models"] = [2, 2, 1, 2, 2, 2, 2]
    f["vol_top_model_share"] = [0.54, 0.54, 1.0, 0.54, 0.9, 0.54, 0.54]
    f["div_distinct_prompt_ratio"] = [0.46, 0.46, 0.46, 0.95, 0.46, 0.46, 0.46]
    h = hits([["ruled", D, "u1", "harvest_x", "t", "review", "high", "stable", 0.7, False]])
    out = apply_policy(f, np.array([0.57, 0.95, 0.57, 0.57, 0.57, 0.57, 0.57]), h, cfg)
    # one question set sent to two models at 0.57: allowed; at the block score it is blocked
    # (the guard holds reviews only); one model, mostly new prompts, one model carrying the
    # day, a cluster's member and a rule's review are untouched
    assert list(out["decision"]) == ["allow", "block", "review", "review", "review", "review",
                                     "review"]
    unset = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50,
                         model_block_min_hour_entropy=1.0, burst_review_min_score=0.9)
    assert apply_policy(f, np.full(7, 0.57), h, unset)["decision"].eq("review").all()
    with pytest.raises(ValueError, match="expected both set or both None"):
        PolicyConfig(review_threshold=0.5, block_threshold=0.9, comparison_max_prompt_ratio=0.6)
    with pytest.raises(ValueError, match="comparison_max_top_model_share: expected a share"):
        PolicyConfig(review_threshold=0.5, block_threshold=0.9,
                     comparison_max_top_model_share=0.0, comparison_max_prompt_ratio=0.6)


@pytest.mark.parametrize("kwargs, match", [
    ({"session_block_max_hour_entropy": 5.0}, "session_block_max_hour_entropy"),
    ({"session_block_max_hour_entropy": 2.5, "strict_block_min_score": 0.5},
     "strict_block_min_score"),
    ({"session_block_min_score": 0.97}, "session_block_min_score"),
    ({"session_block_max_hour_entropy": 2.5, "strict_block_min_score": 0.95,
      "session_block_min_score": 0.9}, "session_block_min_score"),
    ({"session_block_max_hour_entropy": 2.5, "strict_block_min_score": 0.95,
      "session_block_min_score": 1.5}, "session_block_min_score"),
    ({"thin_block_min_requests": 0}, "thin_block_min_requests"),
    ({"thin_block_min_requests": 60}, "thin_block_min_requests"),
    ({"thin_block_min_requests": 10, "strict_block_min_score": 0.7}, "strict_block_min_score"),
    ({"burst_review_min_score": 0.9}, "burst_review_min_score"),
    ({"burst_review_min_score": 0.3, "model_block_min_hour_entropy": 1.0},
     "burst_review_min_score"),
    ({"thin_block_max_shared_network": 0.0}, "thin_block_max_shared_network"),
    ({"thin_block_max_shared_network": 1.2}, "thin_block_max_shared_network"),
    ({"model_block_max_multiturn": 0.0}, "model_block_max_multiturn"),
    ({"model_block_max_multiturn": 1.5}, "model_block_max_multiturn"),
])
def test_thin_evidence_and_conversation_settings_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_min_requests=50,
                     **kwargs)


def test_with_the_thin_tier_a_block_backed_by_the_week_alone_needs_the_strict_score():
    cfg = PolicyConfig(review_threshold=0.5, block_threshold=0.8, model_block_min_requests=50,
                       thin_block_min_requests=10, strict_block_min_score=0.95)
    f = frame(["small_app", "ring_member", "full_day", "fleet1", "fleet2", "fleet3"],
              clusters=[None, None, None, "c1", "c1", "c1"])
    f["vol_requests"] = [31, 31, 120, 20, 20, 20]
    f["w7_vol_requests"] = [92, 92, 120, 20, 20, 20]
    f["tim_hour_entropy"] = [4.0, 3.0, 4.0, 3.0, 3.0, 3.0]
    out = apply_policy(f, np.array([0.83, 0.99, 0.83, 0.83, 0.83, 0.83]), hits([]), cfg)
    # 31 requests today, 92 over the week, at 0.83: reviewed; at 0.99 the week backs a block;
    # a day holding the floor, or a cluster's pooled day, blocks at the usual threshold
    assert list(out["decision"]) == ["review", "block", "block", "block", "block", "block"]
    assert out.loc[0, "sources"] == ["model", "model_block_capped"]
