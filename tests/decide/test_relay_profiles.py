"""Relay request profiles: a relay-day not blocked goes to review when one profile of its
requests, judged on its own, scores as a review and asks for reasoning where the rest of the
relay's day does not; to block with a tenth of the day and an ordinary rest. A profile scoring
under review reviews its relay when it holds a tenth of the day, asks for reasoning where the
rest does not, and is sent by a few end-user ids (twice the rest's requests per end user)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from detector.decide import amend, relay_profiles
from detector.decide.policy import PolicyConfig, apply_policy

from .test_relay_end_users import _decide as decide_with
from .test_relay_end_users import _Model
from .test_relay_streams import DAY, _req, home  # noqa: F401  (fixture)
from .test_returning import write_lake

CFG = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50,
                   model_block_max_end_users=20, thin_block_min_requests=10)


def relay(account: str, harvest: int, organic: int = 400, *, cot: bool = True,
          effort: str | None = None, organic_cot: bool = False,
          senders: int | None = None) -> list[dict]:
    """``organic`` requests of 100 end users (4 each) on one profile and ``harvest`` requests
    of one script (a 4,096-token limit on a large model; asking step by step with ``cot``,
    with ``effort`` as reasoning effort) spread over the same end users, so that no end user
    reaches the 10-request floor of ``relay_end_users``; or, with ``senders``, over that many
    end-user ids of their own (``h0``, ``h1``...)."""
    step = min(3.0, 1200 / max(organic, 1))
    rows = []
    for i in range(organic):
        row = _req(account, i, user=f"u{i % 100}", minutes=step)
        if organic_cot:
            text = f"{account} organic {i}: walk me through it step by step"
            row |= {"prompt_text": text, "prompt_hash": hashlib.sha1(text.encode()).hexdigest()}
        rows.append(row)
    for i in range(harvest):
        user = f"u{i % 100}" if senders is None else f"h{i % senders}"
        row = _req(account, i, user=user, model="frontier-large", max_tokens=4096, minutes=1.1)
        text = f"{account} topic {i}" + (": answer step by step" if cot else "")
        row |= {"request_id": f"{account}-h-{i}", "prompt_text": text,
                "prompt_hash": hashlib.sha1(text.encode()).hexdigest()}
        if effort:
            row["reasoning_effort"] = effort
        rows.append(row)
    return rows


def _decide(home, scores: dict[str, float], model: _Model | None = None  # noqa: F811
            ) -> pd.DataFrame:
    return decide_with(home, scores, model=model, step=relay_profiles)


def test_a_profile_asking_for_reasoning_on_a_tenth_of_the_day_blocks_the_relay(home):  # noqa: F811
    write_lake(home, relay("proxy", 60) + relay("small", 30) + relay("plain", 60, cot=False)
               + relay("clean", 0))
    out = _decide(home, {"proxy": 0.05, "small": 0.05, "plain": 0.05, "clean": 0.05})
    assert out.loc["proxy", "decision"] == "block"
    assert out.loc["proxy", "sources"] == [relay_profiles.REASON]
    ev = json.loads(out.loc["proxy", "explanation_json"])["relay_profile"]
    assert ev["requests"] == 60 and ev["share"] == pytest.approx(60 / 460, abs=1e-3)
    assert ev["score"] == pytest.approx(0.7) and ev["rest_score"] == pytest.approx(0.1)
    assert ev["differences"] == {"cot_wording": [1.0, 0.0]} and ev["block"] is True
    assert ev["profile"].startswith("pf:")
    assert ev["described"]["model"] == "frontier-large" and ev["described"]["max_tokens"] == 4096
    # under the evidence floor (30 requests), or not asking for reasoning: no evidence
    for account in ("small", "plain", "clean"):
        assert out.loc[account, "decision"] == "allow", account
        assert json.loads(out.loc[account, "explanation_json"]) == {}


def test_under_a_tenth_of_the_day_the_profile_reviews(home):  # noqa: F811
    # 60 of 1,060 requests (5.7%): past MIN_SHARE, under BLOCK_MIN_SHARE
    write_lake(home, relay("proxy", 60, organic=1000))
    out = _decide(home, {"proxy": 0.05})
    assert out.loc["proxy", "decision"] == "review"
    assert json.loads(out.loc["proxy", "explanation_json"])["relay_profile"]["block"] is False
    # ... unless it scores as a block on its own, against an ordinary rest
    assert _decide(home, {"proxy": 0.05}, _Model(long=0.95)).loc["proxy", "decision"] == "block"


def test_a_profile_under_the_share_floor_is_no_evidence(home, monkeypatch):  # noqa: F811
    """60 requests of a relay-day of 1,660 (3.6%) are under ``MIN_SHARE``."""
    write_lake(home, relay("big", 60, organic=1600))
    assert _decide(home, {"big": 0.05}).loc["big", "decision"] == "allow"
    monkeypatch.setattr(relay_profiles.relay_end_users, "MIN_SHARE", 0.03)
    assert _decide(home, {"big": 0.05}).loc["big", "decision"] == "review"


def test_a_relay_whose_other_traffic_asks_for_reasoning_too_is_left_alone(home):  # noqa: F811
    # a tutoring reseller: every customer asks step by step; the long profile is no different
    write_lake(home, relay("tutor", 60, organic_cot=True))
    out = _decide(home, {"tutor": 0.05})
    assert out.loc["tutor", "decision"] == "allow"


def test_high_reasoning_effort_is_asking_for_reasoning(home):  # noqa: F811
    write_lake(home, relay("proxy", 60, cot=False, effort="high"))
    out = _decide(home, {"proxy": 0.05})
    ev = json.loads(out.loc["proxy", "explanation_json"])["relay_profile"]
    assert out.loc["proxy", "decision"] == "block"
    assert ev["differences"] == {"high_effort": [1.0, 0.0]}


def test_a_rest_scoring_as_a_review_keeps_the_relay_at_review(home):  # noqa: F811
    write_lake(home, relay("proxy", 60))
    out = _decide(home, {"proxy": 0.05}, _Model(long=0.7, other=0.6))
    assert out.loc["proxy", "decision"] == "review"
    ev = json.loads(out.loc["proxy", "explanation_json"])["relay_profile"]
    assert ev["rest_score"] == pytest.approx(0.6) and ev["block"] is False


def test_a_profile_scoring_under_review_is_no_evidence(home):  # noqa: F811
    write_lake(home, relay("proxy", 60))
    assert _decide(home, {"proxy": 0.05}, _Model(long=0.4)).loc["proxy", "decision"] == "allow"


def test_a_profile_scoring_under_review_sent_by_a_few_ids_reviews(home):  # noqa: F811
    # 60 of 460 requests (13%) asking step by step, from 6 ids (10 requests each) where the
    # rest's 100 end users send 4 each: reviewed on that concentration, never blocked on it
    write_lake(home, relay("proxy", 60, senders=6) + relay("spread", 60, senders=60)
               + relay("plain", 60, cot=False, senders=6)
               + relay("tutor", 60, organic_cot=True, senders=6)
               + relay("thin_share", 60, organic=1000, senders=6))
    accounts = ("proxy", "spread", "plain", "tutor", "thin_share")
    out = _decide(home, dict.fromkeys(accounts, 0.05), _Model(long=0.3))
    assert out.loc["proxy", "decision"] == "review"
    assert out.loc["proxy", "sources"] == [relay_profiles.REASON]
    ev = json.loads(out.loc["proxy", "explanation_json"])["relay_profile"]
    assert ev["concentration"] == [10.0, 4.0] and ev["block"] is False
    assert ev["score"] == pytest.approx(0.3) and ev["differences"] == {"cot_wording": [1.0, 0.0]}
    # as densely sent as the rest (1 a user), not asking for reasoning, asked as the rest
    # asks, or under a tenth of the day (60 of 1,060): no evidence
    for account in ("spread", "plain", "tutor", "thin_share"):
        assert out.loc[account, "decision"] == "allow", account
    # a profile scoring as a review is judged as before: blocked beside an ordinary rest
    assert _decide(home, {"proxy": 0.05}).loc["proxy", "decision"] == "block"


def test_concentration_compares_requests_per_end_user():
    profile = pd.Series({"vol_requests": 60, "inf_distinct_end_users": 6})
    assert relay_profiles.concentration(profile, pd.Series(
        {"vol_requests": 400, "inf_distinct_end_users": 100})) == [10.0, 4.0]
    # under MIN_CONCENTRATION times the rest's, or no end-user ids on either side
    assert relay_profiles.concentration(profile, pd.Series(
        {"vol_requests": 600, "inf_distinct_end_users": 100})) == []
    assert relay_profiles.concentration(profile, pd.Series({"vol_requests": 400})) == []
    assert relay_profiles.concentration(pd.Series({"vol_requests": 60}), pd.Series(
        {"vol_requests": 400, "inf_distinct_end_users": 100})) == []


def test_a_review_keeps_its_decision_and_gains_the_profile(home):  # noqa: F811
    write_lake(home, relay("reviewed", 60, organic=1000))
    out = _decide(home, {"reviewed": 0.6})
    assert out.loc["reviewed", "decision"] == "review"
    assert out.loc["reviewed", "sources"] == ["model", relay_profiles.REASON]


def test_only_relay_days_not_blocked_nor_allow_listed_are_read(home):  # noqa: F811
    write_lake(home, relay("blocked", 60) + relay("operator", 60) + relay("allowed", 60)
               + relay("proxy", 60))
    frame = pd.DataFrame({"account_id": ["blocked", "operator", "allowed", "proxy"],
                          "date": dt.date.fromisoformat(DAY), "vol_requests": 460,
                          "inf_distinct_end_users": [100, 3, 100, 100],
                          "org_id": [None, None, "o1", None]})
    out = apply_policy(frame, np.full(4, 0.05), pd.DataFrame(), CFG, allow_orgs={"o1"})
    out.loc[0, "decision"] = "block"  # blocked by an earlier step (a rule, its end users)
    assert relay_profiles.candidates(out, frame, CFG) == [3]
    assert list(relay_profiles.judge(home, frame, out, _Model(), CFG)) == [3]


def test_elicits_counts_only_asking_for_reasoning():
    stream = pd.Series({"hv_cot_lexicon_share": 0.9, "hv_high_effort_share": 0.0,
                        "div_multiturn_share": 0.0, "hv_logprobs_share": 1.0,
                        "hv_max_tokens_mean": 8192.0, "hv_output_input_ratio": 40.0})
    rest = pd.Series({"hv_cot_lexicon_share": 0.05, "hv_high_effort_share": 0.0,
                      "div_multiturn_share": 0.6, "hv_logprobs_share": 0.0,
                      "hv_max_tokens_mean": 1000.0, "hv_output_input_ratio": 6.0})
    # single turns, logprobs and the output limit are the profile cut itself; output length is
    # a long-form product's: only chain-of-thought wording counts here
    assert relay_profiles.elicits(stream, rest) == {"cot_wording": [0.9, 0.05]}
    weak = pd.concat([stream.drop("hv_cot_lexicon_share"),
                      pd.Series({"hv_cot_lexicon_share": 0.2})])
    assert relay_profiles.elicits(weak, rest) == {}
    assert relay_profiles.asks_for_reasoning(stream)
    assert not relay_profiles.asks_for_reasoning(weak)


def test_the_amend_steps_run_in_order_after_the_end_users(monkeypatch):
    calls = []
    for module, name in ((amend.reruns, "judge"), (amend.relay_streams, "judge"),
                         (amend.relay_end_users, "judge"), (amend.relay_profiles, "judge"),
                         (amend.near_fleets, "judge"), (amend.returning, "link")):
        monkeypatch.setattr(module, name, lambda *a, _m=module.__name__, **k: calls.append(
            _m.rsplit(".", 1)[-1]) or {})
    out = pd.DataFrame({"account_id": ["a"], "date": [dt.date.fromisoformat(DAY)],
                        "decision": ["allow"], "sources": [[]], "allowlisted": [False]})
    after, evidence = amend.run(None, None, out, out, None, CFG)
    assert calls == ["reruns", "relay_streams", "relay_end_users", "relay_profiles",
                     "near_fleets", "returning"]
    assert len(evidence) == 6 and after["decision"].tolist() == ["allow"]


def test_amend_annotates_each_explanation_by_its_position():
    texts = amend.annotate(["{}", "{}", "{}"], [
        (relay_profiles.annotate, {2: {"profile": "pf:1", "block": False}})], positions=[5, 2, 7])
    assert json.loads(texts[1]) == {"relay_profile": {"profile": "pf:1", "block": False}}
    assert texts[0] == "{}" and texts[2] == "{}"
