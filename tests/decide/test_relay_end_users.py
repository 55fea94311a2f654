"""Relay end users: a relay-day not blocked goes to review when its own end users, each judged
on their own traffic, score as a review and together send the evidence floor's requests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from detector.decide import relay_end_users
from detector.decide.policy import PolicyConfig, apply_policy

from .test_relay_streams import DAY, _req, home  # noqa: F401  (fixture)
from .test_returning import write_lake

CFG = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50,
                   model_block_max_end_users=20, thin_block_min_requests=10)


def relay(account: str, harvesters: list[int], organic: int = 400) -> list[dict]:
    """``organic`` requests of 100 end users (4 each, under the 10-request floor) and, per
    entry of ``harvesters``, that many long-output requests on a large model from one more end
    user."""
    step = min(3.0, 1200 / max(organic, 1))  # the day's traffic within the day
    rows = [_req(account, i, user=f"u{i % 100}", minutes=step) for i in range(organic)]
    for h, n in enumerate(harvesters):
        for i in range(n):
            row = _req(account, i, user=f"harvester{h}", model="frontier-large",
                       max_tokens=4096, minutes=1.1 + 0.1 * h)
            text = f"{account} harvester {h} question {i}"
            rows.append(row | {"request_id": f"{account}-h{h}-{i}", "prompt_text": text,
                               "prompt_hash": hashlib.sha1(text.encode()).hexdigest()})
    return rows


class _Model:
    """Scores a pseudo-account by what its requests are: mostly long outputs score ``long``
    (a review by default), others ``other``."""

    def __init__(self, long: float = 0.7, other: float = 0.1):
        self.long, self.other = long, other

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        long = pd.to_numeric(frame["hv_max_tokens_mean"], errors="coerce").fillna(0) >= 2048
        p = np.where(long, self.long, self.other)
        return np.column_stack([1 - p, p])


def _decide(home, scores: dict[str, float], users: int = 100,  # noqa: F811
            model: _Model | None = None, step=relay_end_users) -> pd.DataFrame:
    """The policy's verdicts of ``scores`` (relay-days of ``users`` end users), amended by
    ``step`` (a decide step module: ``judge``, ``apply``, ``annotate``)."""
    frame = pd.DataFrame({"account_id": list(scores), "date": dt.date.fromisoformat(DAY),
                          "vol_requests": 450, "inf_distinct_end_users": users})
    out = apply_policy(frame, np.array(list(scores.values())), pd.DataFrame(), CFG)
    found = step.judge(home, frame, out, model or _Model(), CFG)
    after = step.apply(out, found)
    after["explanation_json"] = step.annotate(["{}"] * len(after), found)
    return after.set_index("account_id")


def test_harvesting_end_users_past_the_floor_together_send_the_relay_to_review(home):  # noqa: F811
    # under a tenth of the relay's day (60 of 760 requests, 7.9%): a review, not a block
    write_lake(home, relay("proxy", [20, 20, 20], organic=700) + relay("one_big", [55], organic=700)
               + relay("thin", [12, 12, 12]) + relay("clean", []))
    out = _decide(home, {"proxy": 0.05, "one_big": 0.05, "thin": 0.05, "clean": 0.05})
    assert out.loc["proxy", "decision"] == "review"
    assert out.loc["proxy", "sources"] == [relay_end_users.REASON]
    ev = json.loads(out.loc["proxy", "explanation_json"])["relay_end_users"]
    assert ev["end_users"] == 3 and ev["requests"] == 60 and ev["block"] is False
    assert ev["share"] == pytest.approx(60 / 760, abs=1e-3)
    assert [u["requests"] for u in ev["listed"]] == [20, 20, 20]
    assert all(u["score"] == pytest.approx(0.7) for u in ev["listed"])
    # judged together they score as a review too, the rest of the day as ordinary traffic
    assert ev["score"] == pytest.approx(0.7) and ev["rest_score"] == pytest.approx(0.1)
    # one end user with the floor's requests on its own is enough
    assert out.loc["one_big", "decision"] == "review"
    # three harvesting end users of 12 requests (36 together) are under the floor; a relay
    # whose end users look ordinary is left alone
    assert out.loc["thin", "decision"] == "allow" and out.loc["clean", "decision"] == "allow"
    assert json.loads(out.loc["thin", "explanation_json"]) == {}


def test_a_review_keeps_its_decision_and_gains_the_end_users_as_evidence(home):  # noqa: F811
    write_lake(home, relay("proxy", [30, 30], organic=700))
    out = _decide(home, {"proxy": 0.6})
    assert out.loc["proxy", "decision"] == "review"
    assert out.loc["proxy", "sources"] == ["model", relay_end_users.REASON]


def test_only_relay_days_not_blocked_nor_allow_listed_are_candidates():
    frame = pd.DataFrame({"account_id": ["relay", "blocked", "operator", "allowed"],
                          "date": dt.date.fromisoformat(DAY), "vol_requests": 500,
                          "inf_distinct_end_users": [40, 40, 3, 40],
                          "org_id": [None, None, None, "o1"]})
    out = apply_policy(frame, np.array([0.1, 0.95, 0.1, 0.1]), pd.DataFrame(),
                       PolicyConfig(review_threshold=0.5, block_threshold=0.9), allow_orgs={"o1"})
    assert relay_end_users.candidates(out, frame, CFG) == [0]
    off = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_max_end_users=None)
    assert relay_end_users.candidates(out, frame, off) == []


def test_only_the_largest_end_users_of_a_relay_day_are_judged(home, monkeypatch):  # noqa: F811
    """The featured rows are bounded: with room for two end users, the third harvester (the
    smallest) is not read and the two judged send 45 requests, under the floor."""
    write_lake(home, relay("proxy", [25, 20, 15], organic=700))
    monkeypatch.setattr(relay_end_users, "MAX_END_USERS", 2)
    out = _decide(home, {"proxy": 0.05})
    assert out.loc["proxy", "decision"] == "allow"
    monkeypatch.setattr(relay_end_users, "MAX_END_USERS", 3)
    assert _decide(home, {"proxy": 0.05}).loc["proxy", "decision"] == "review"


def test_streams_can_be_cut_per_end_user_only(home):  # noqa: F811
    from detector.decide import relay_streams

    write_lake(home, relay("proxy", [20]))
    _, both = relay_streams.stream_requests(home, DAY, ["proxy"], 10)
    req, users = relay_streams.stream_requests(home, DAY, ["proxy"], 10, kinds=("end_user",))
    assert {e["kind"] for e in both.values()} == {"end_user", "profile"}
    assert [e["kind"] for e in users.values()] == ["end_user"] and req.num_rows == 20
    with pytest.raises(ValueError, match="kinds: expected a non-empty subset"):
        relay_streams.stream_requests(home, DAY, ["proxy"], 10, kinds=("tenant",))


def test_harvesting_end_users_are_a_small_share_of_a_large_relay_day(home,  # noqa: F811
                                                                      monkeypatch):
    """60 harvesting-scored requests in a relay-day of 1,660 (3.6%) are under ``MIN_SHARE``:
    a large relay's busiest end users score high by chance, in proportion to its volume."""
    write_lake(home, relay("big", [20, 20, 20], organic=1600))
    assert _decide(home, {"big": 0.05}).loc["big", "decision"] == "allow"
    monkeypatch.setattr(relay_end_users, "MIN_SHARE", 0.03)
    assert _decide(home, {"big": 0.05}).loc["big", "decision"] == "review"


def test_harvesting_end_users_scoring_as_a_block_together_block_the_relay(home):  # noqa: F811
    write_lake(home, relay("proxy", [20, 20, 20]))
    out = _decide(home, {"proxy": 0.95}, model=_Model(long=0.95))
    assert out.loc["proxy", "decision"] == "block"
    assert out.loc["proxy", "sources"] == ["model", relay_end_users.REASON]
    ev = json.loads(out.loc["proxy", "explanation_json"])["relay_end_users"]
    assert ev["block"] is True and ev["score"] == pytest.approx(0.95)
    assert ev["rest_score"] == pytest.approx(0.1)


def test_harvesting_end_users_holding_a_tenth_of_the_day_block_at_the_review_score(home):  # noqa: F811
    """Joint score at review (0.7, under the block threshold 0.9), the rest of the day
    ordinary: a block once they hold ``BLOCK_MIN_SHARE`` of the relay's day (60 of 460, 13%),
    a review under it (60 of 760)."""
    write_lake(home, relay("proxy", [20, 20, 20]) + relay("big", [20, 20, 20], organic=700))
    out = _decide(home, {"proxy": 0.05, "big": 0.05})
    assert out.loc["proxy", "decision"] == "block"
    assert out.loc["proxy", "sources"] == [relay_end_users.REASON]
    ev = json.loads(out.loc["proxy", "explanation_json"])["relay_end_users"]
    assert ev["block"] is True and ev["share"] == pytest.approx(60 / 460, abs=1e-3)
    assert ev["score"] == pytest.approx(0.7) and ev["rest_score"] == pytest.approx(0.1)
    assert out.loc["big", "decision"] == "review"
    # under review together: no block, whatever the share
    out = _decide(home, {"proxy": 0.05, "big": 0.05}, model=_Model(long=0.45))
    assert out.loc["proxy", "decision"] == "allow"


def test_a_relay_whose_other_traffic_looks_the_same_stays_at_review(home):  # noqa: F811
    """Only the contrast blocks: a relay whose ordinary traffic asks for long outputs too
    scores high without its harvesting end users."""
    rows = [r | {"max_tokens": 4096} for r in relay("app", [20, 20, 20])]
    write_lake(home, rows)
    out = _decide(home, {"app": 0.2}, model=_Model(long=0.95))
    assert out.loc["app", "decision"] == "review"
    assert json.loads(out.loc["app", "explanation_json"])["relay_end_users"]["block"] is False


def test_the_joint_and_rest_pseudo_accounts_split_the_relays_day(home):  # noqa: F811
    write_lake(home, relay("proxy", [20, 15]))
    req = relay_end_users.joint_requests(home, DAY, {"proxy": ["harvester0"]})
    counts = pd.Series(req.column("account_id").to_pylist()).value_counts().to_dict()
    assert counts == {"proxy" + relay_end_users.JOINT: 20, "proxy" + relay_end_users.REST: 415}


class _SmallSample:
    """Scores a pseudo-account by its size alone, as a small sample's coverage statistics can
    read: under 100 requests ``small`` (a review), others 0.1."""

    def __init__(self, small: float = 0.7):
        self.small = small

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        few = pd.to_numeric(frame["vol_requests"], errors="coerce").fillna(0) < 100
        p = np.where(few, self.small, 0.1)
        return np.column_stack([1 - p, p])


def test_end_users_whose_requests_look_like_the_rest_are_no_evidence(home):  # noqa: F811
    """A tutoring app: three students send 20 ordinary requests each, a tenth of the day and
    more (60 of 460), scoring as a review together only because they are few; their requests
    differ from the rest of the day in nothing harvesting changes, so the relay is left to its
    own score. The same end users asking for long outputs on a large model are blocked."""
    students = [r | {"model": "chat-small", "max_tokens": None, "completion_tokens": 120}
                for r in relay("tutor", [20, 20, 20])]
    write_lake(home, students + relay("proxy", [20, 20, 20]))
    out = _decide(home, {"tutor": 0.05, "proxy": 0.05}, model=_SmallSample())
    assert out.loc["tutor", "decision"] == "allow"
    assert json.loads(out.loc["tutor", "explanation_json"]) == {}
    # scoring as a block together, they stand as evidence without a difference
    out = _decide(home, {"tutor": 0.05, "proxy": 0.05}, model=_SmallSample(small=0.95))
    assert out.loc["tutor", "decision"] == "block"
    ev = json.loads(out.loc["tutor", "explanation_json"])["relay_end_users"]
    assert ev["score"] == pytest.approx(0.95) and ev["rest_score"] == pytest.approx(0.1)
    assert ev["share"] == pytest.approx(60 / 460, abs=1e-3)
    assert ev["block"] is True and ev["differences"] == {}
    out = _decide(home, {"tutor": 0.05, "proxy": 0.05}, model=_SmallSample())
    assert out.loc["proxy", "decision"] == "block"
    diff = json.loads(out.loc["proxy", "explanation_json"])["relay_end_users"]["differences"]
    assert diff["max_tokens"] == [4096.0, 0.0]
    assert diff["output_per_input"] == [30.0, 4.0]


def test_differences_name_the_shares_and_ratios_that_set_the_end_users_apart():
    joint = pd.Series({"hv_cot_lexicon_share": 0.95, "hv_logprobs_share": 0.1,
                       "hv_high_effort_share": None, "div_multiturn_share": 0.0,
                       "hv_max_tokens_mean": 8192.0, "hv_output_input_ratio": 30.0})
    rest = pd.Series({"hv_cot_lexicon_share": 0.2, "hv_logprobs_share": 0.0,
                      "hv_high_effort_share": 0.0, "div_multiturn_share": 0.6,
                      "hv_max_tokens_mean": 8192.0, "hv_output_input_ratio": 16.0})
    assert relay_end_users.differences(joint, rest) == {"cot_wording": [0.95, 0.2],
                                                        "single_turn": [1.0, 0.4]}
    assert relay_end_users.differences(rest, rest) == {}
    # a feature the day lacks is no difference
    assert relay_end_users.differences(joint.drop("hv_cot_lexicon_share"), rest) == {
        "single_turn": [1.0, 0.4]}
