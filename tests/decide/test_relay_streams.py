"""Relay sub-streams: a relay capped at review is blocked only when a stream of its own traffic
(one end user, one request profile), judged on its own, scores as a block."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from detector.decide import relay_streams
from detector.decide.policy import PolicyConfig, apply_policy
from detector.features import engine
from detector.features.compute import all_request_files, first_seen
from detector.settings import load_settings

from .test_returning import write_lake

DAY = "2026-11-05"
CFG = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50,
                   model_block_max_end_users=20)


@pytest.fixture
def home(tmp_path):
    s = load_settings(tmp_path / "h")
    s.ensure_dirs()
    return s


def _req(account: str, i: int, *, user: str | None, model: str = "chat-small",
         max_tokens: int | None = None, minutes: float = 3.0) -> dict[str, Any]:
    ts = dt.datetime.fromisoformat(DAY).replace(tzinfo=dt.UTC) + dt.timedelta(minutes=minutes * i)
    text = f"{account} {model} question {i}"
    return {"request_id": hashlib.sha1(f"{account}{model}{i}".encode()).hexdigest(), "ts": ts,
            "account_id": account, "client_ip": "203.0.113.9", "ip_prefix": "203.0.113.0/24",
            "user_agent": "RelayGateway/3.2", "prompt_text": text,
            "prompt_hash": hashlib.sha1(text.encode()).hexdigest(), "max_tokens": max_tokens,
            "model": model, "end_user_hash": user, "n_user_turns": 1,
            "completion_tokens": 900 if max_tokens else 120, "prompt_tokens": 30}


def relay(account: str, harvest: int, organic: int = 400) -> list[dict[str, Any]]:
    """``organic`` requests of 40 end users on one profile and ``harvest`` on another (a long
    max_tokens on a large model, spread over the same end users)."""
    rows = [_req(account, i, user=f"u{i % 40}") for i in range(organic)]
    rows += [_req(account, i, user=f"u{i % 40}", model="frontier-large",
                  max_tokens=2048 if i % 2 else 4096, minutes=1.4) for i in range(harvest)]
    return rows


def test_streams_are_cut_per_end_user_and_per_profile_within_the_bounds(home):
    write_lake(home, relay("proxy", harvest=120) + relay("small", harvest=30))
    req, info = relay_streams.stream_requests(home, DAY, ["proxy", "small"],
                                              CFG.model_block_min_requests)
    by_kind = {}
    for pseudo, ev in info.items():
        assert pseudo == f"{ev['account_id']}~{ev['stream']}"
        by_kind.setdefault((ev["account_id"], ev["kind"]), []).append(ev)
    # the two max_tokens values of the harvest script are one profile (2048 and more)
    [harvest] = [e for e in by_kind[("proxy", "profile")] if e["requests"] == 120]
    assert harvest["share"] == pytest.approx(120 / 520, abs=1e-4)
    # the organic profile is 77% of the day (<= 80%): judged too; end users hold 13 requests
    # each (< 50): not streams; the small relay's 30-request harvest is under the floor, and
    # its organic profile is 93% of its day: the relay itself, not a stream
    assert sorted(e["requests"] for e in by_kind[("proxy", "profile")]) == [120, 400]
    assert ("proxy", "end_user") not in by_kind and not any(a == "small" for a, _ in by_kind)
    counts = pd.Series(req.column("account_id").to_pylist()).value_counts()
    assert counts[f"proxy~{harvest['stream']}"] == 120
    assert not any(a.endswith(relay_streams.REST) for a in counts.index)
    # the rest of the relay's day beside a stream, for the streams asked for only
    rest, _ = relay_streams.stream_requests(home, DAY, ["proxy"], CFG.model_block_min_requests,
                                            rests=[f"proxy~{harvest['stream']}"])
    assert pd.Series(rest.column("account_id").to_pylist()).value_counts().to_dict() == {
        f"proxy~{harvest['stream']}{relay_streams.REST}": 400}


class _Model:
    """Scores a pseudo-account by what its requests are: the harvesting profile blocks."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        long = pd.to_numeric(frame["hv_max_tokens_mean"], errors="coerce").fillna(0) >= 2048
        p = np.where(long, 0.97, 0.2)
        return np.column_stack([1 - p, p])


def _decide(home, accounts: dict[str, int]) -> pd.DataFrame:
    frame = pd.DataFrame({"account_id": list(accounts), "date": dt.date.fromisoformat(DAY),
                          "vol_requests": 500, "inf_distinct_end_users": list(accounts.values())})
    out = apply_policy(frame, np.full(len(frame), 0.95), pd.DataFrame(), CFG)
    found = relay_streams.judge(home, frame, out, _Model(), CFG)
    after = relay_streams.apply(out, found)
    after["explanation_json"] = relay_streams.annotate(["{}"] * len(after), found)
    return after.set_index("account_id")


def test_a_capped_relay_is_blocked_on_its_harvesting_stream_only(home):
    write_lake(home, relay("proxy", harvest=120) + relay("clean_relay", harvest=0)
               + relay("operator", harvest=120))
    out = _decide(home, {"proxy": 40, "clean_relay": 40, "operator": 1})
    assert out.loc["proxy", "decision"] == "block"
    assert out.loc["proxy", "sources"] == ["model", relay_streams.REASON]
    ev = json.loads(out.loc["proxy", "explanation_json"])["relay_stream"]
    assert ev["kind"] == "profile" and ev["requests"] == 120 and ev["score"] == pytest.approx(0.97)
    assert ev["rest_score"] == pytest.approx(0.2)
    # a relay whose streams all look ordinary stays at review with the cap visible
    assert out.loc["clean_relay", "decision"] == "review"
    assert "model_block_capped" in out.loc["clean_relay", "sources"]
    # not a relay: the model blocked it directly, no stream was read
    assert out.loc["operator", "decision"] == "block"
    assert json.loads(out.loc["operator", "explanation_json"]) == {}


def test_only_capped_relays_are_candidates():
    frame = pd.DataFrame({"account_id": ["relay", "small", "relay_low", "allowed"],
                          "date": dt.date.fromisoformat(DAY), "vol_requests": [500, 10, 500, 500],
                          "inf_distinct_end_users": [40, 40, 40, 40], "org_id": [None, None, None, "o1"]})
    out = apply_policy(frame, np.array([0.95, 0.95, 0.6, 0.95]), pd.DataFrame(), CFG,
                       allow_orgs={"o1"})
    # capped for relaying: yes; capped for thin evidence only (10 requests) is a relay too,
    # but its streams cannot reach the floor; a review on the score, an allow-listed org: no
    assert relay_streams.candidates(out, frame, CFG) == [0, 1]


def test_a_relay_whose_other_traffic_looks_the_same_is_not_blocked_on_a_stream(home):
    """A sample of traffic the model already scores as a block scores as one too: a stream
    blocks only against a rest that looks ordinary."""
    rows = [_req("app", i, user=f"u{i % 40}", model="chat-small", max_tokens=4096)
            for i in range(300)]
    rows += [_req("app", i, user=f"u{i % 40}", model="frontier-large", max_tokens=2048,
                  minutes=1.4) for i in range(120)]
    write_lake(home, rows)
    out = _decide(home, {"app": 40})
    assert out.loc["app", "decision"] == "review"
    assert "model_block_capped" in out.loc["app", "sources"]


def test_the_features_runs_model_first_seen_table_is_read_not_the_lake(home, monkeypatch):
    import pyarrow as pa

    from detector.features import store

    write_lake(home, relay("proxy", harvest=120))
    fs = pa.table({"model": pa.array(["chat-small"]),
                   "first_ts": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.UTC)],
                                        pa.timestamp("us", tz="UTC"))})
    store.write_model_first_seen(home, fs)

    def no_lake_pass(*_a, **_k):
        raise AssertionError("the lake was read for first-seen models although the table exists")

    monkeypatch.setattr(relay_streams, "first_seen", no_lake_pass)
    out = _decide(home, {"proxy": 40})
    assert out.loc["proxy", "decision"] == "block"


def test_each_stream_gets_the_coverage_statistics_of_its_own_prompts(tmp_path):
    import pyarrow as pa

    s = load_settings(tmp_path / "h", embedding_backend="hashing")
    s.ensure_dirs()
    write_lake(s, relay("proxy", harvest=120))
    req, info = relay_streams.stream_requests(s, DAY, ["proxy"], CFG.model_block_min_requests)
    fs = pa.table({"model": pa.array(["chat-small", "frontier-large"]),
                   "first_ts": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * 2,
                                        pa.timestamp("us", tz="UTC"))})
    [harvest] = [p for p, ev in info.items() if ev["requests"] == 120]
    rest, _ = relay_streams.stream_requests(s, DAY, ["proxy"], CFG.model_block_min_requests,
                                            rests=[harvest])
    req = pa.concat_tables([req, rest.select(req.column_names)])
    feats = relay_streams.stream_features(s, req, DAY, fs).set_index("account_id")
    # every prompt of the 120-request stream is distinct: the sample holds all of them (k=256)
    assert feats.loc[harvest, "cov_n_distinct"] == 120
    assert feats.loc[harvest, "cov_n_sampled"] == 120
    assert feats.loc[harvest + relay_streams.REST, "cov_n_sampled"] == 256
    assert feats["cov_dispersion"].notna().all()
    # the family switched off: no coverage columns at all (the classifier imputes them)
    plain = relay_streams.stream_features(s, req, DAY, fs, coverage=False)
    assert not any(c.startswith("cov_") for c in plain.columns)


THIN = PolicyConfig(review_threshold=0.5, block_threshold=0.9, model_block_min_requests=50,
                    model_block_max_end_users=20, thin_block_min_requests=10,
                    strict_block_min_score=0.95)


class _Scores:
    """Scores the harvesting profile ``harvest`` and everything else 0.2."""

    def __init__(self, harvest: float) -> None:
        self.harvest = harvest

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        long = pd.to_numeric(frame["hv_max_tokens_mean"], errors="coerce").fillna(0) >= 2048
        p = np.where(long, self.harvest, 0.2)
        return np.column_stack([1 - p, p])


@pytest.mark.parametrize("harvest,cfg,blocked", [
    (0.97, THIN, True),    # 30 requests at the strict score, the tier on: thin evidence
    (0.93, THIN, False),   # above the block threshold, under the strict score
    (0.97, CFG, False),    # the tier off: under the floor, not a stream
])
def test_a_stream_under_the_floor_needs_the_strict_score_with_the_thin_tier(home, harvest, cfg,
                                                                            blocked):
    write_lake(home, relay("proxy", harvest=30))
    frame = pd.DataFrame({"account_id": ["proxy"], "date": dt.date.fromisoformat(DAY),
                          "vol_requests": 430, "inf_distinct_end_users": 40})
    out = apply_policy(frame, np.array([0.95]), pd.DataFrame(), cfg)
    found = relay_streams.judge(home, frame, out, _Scores(harvest), cfg)
    assert (0 in found) is blocked
    if blocked:
        assert found[0]["requests"] == 30 and found[0]["kind"] == "profile"


def test_population_features_are_measured_against_the_real_day_not_the_other_streams(home):
    """A relay's pseudo-accounts carry its addresses and card: among themselves every prefix
    and the card would look shared. Measured against the day's real accounts, a stream's
    values do not depend on which other streams are judged beside it."""
    rows = [dict(r, payment_fingerprint="card-1") for r in relay("proxy", harvest=120)]
    # one other real account on the relay's card, none on its prefix
    rows += [dict(_req("sibling", i, user=None), client_ip="198.51.100.7",
                  ip_prefix="198.51.100.0/24", payment_fingerprint="card-1") for i in range(5)]
    write_lake(home, rows)
    eng = engine.connect(home, "duckdb")
    try:
        fs = first_seen(eng, all_request_files(home))
    finally:
        eng.close()
    got = {}
    for floor in (50, 10):  # floor 10: the 40 end users' streams are judged beside the profiles
        req, info = relay_streams.stream_requests(home, DAY, ["proxy"], floor)
        parents = {p: ev["account_id"] for q, ev in info.items()
                   for p in (q, q + relay_streams.REST)}
        feats = relay_streams.stream_features(home, req, DAY, fs, coverage=False,
                                              parents=parents).set_index("account_id")
        got[floor] = feats
    harvest = [p for p in got[50].index if not p.endswith(relay_streams.REST)
               and got[50].loc[p, "vol_requests"] == 120]
    assert len(harvest) == 1
    for floor in (50, 10):
        row = got[floor].loc[harvest[0]]
        assert row["inf_payment_shared_accounts"] == 1          # the sibling, not the streams
        assert row["inf_shared_prefix_share"] == 0.0            # one real account on the prefix
    assert (got[10].loc[got[50].index, "inf_shared_prefix_share"]
            == got[50]["inf_shared_prefix_share"]).all()


def test_only_streams_reaching_their_bar_are_judged_against_their_rest_best_first(home,
                                                                                 monkeypatch):
    """Each rest is the relay's whole day again: rests are read for passing streams only, one
    per relay per round, best first, and none once a stream has blocked its relay."""
    rows = [_req("hub", i, user=f"u{i % 4}") for i in range(400)]  # 4 end users of 100
    rows += [_req("hub", i, user=f"v{i % 2}", model="frontier-large", max_tokens=4096,
                  minutes=1.4) for i in range(120)]
    write_lake(home, rows)
    asked = []
    real = relay_streams.stream_requests

    def spy(*args, **kw):
        asked.append(kw.get("rests"))
        return real(*args, **kw)

    monkeypatch.setattr(relay_streams, "stream_requests", spy)
    out = _decide(home, {"hub": 40})
    assert out.loc["hub", "decision"] == "block"
    # streams: 4 organic end users (100 each, 0.2), 2 harvesting end users (60 each, 0.97) and
    # the harvesting profile (120, 0.97); the organic profile is 77% of the day (0.2). Three
    # pass; the largest goes first, its rest (the organic traffic) scores 0.2: one round, the
    # relay is blocked on the profile, the end users' rests are never read.
    [stream] = [p for p in asked[1]]
    assert asked[0] is None and len(asked) == 2 and stream.startswith("hub~pf:")
    ev = json.loads(out.loc["hub", "explanation_json"])["relay_stream"]
    assert ev["kind"] == "profile" and ev["requests"] == 120
    assert ev["score"] == pytest.approx(0.97) and ev["rest_score"] == pytest.approx(0.2)


def test_a_relay_harvesting_through_every_stream_reads_a_bounded_number_of_rests(home,
                                                                                monkeypatch):
    """Harvesting is the relay's day (its profile 87.5% of it, the relay itself) and spread
    over its 12 end users: each end user's stream passes and each rest holds the rest of the
    harvest. At most MAX_RESTS rests are read, and the relay stays at review."""
    rows = [_req("spread", i, user=f"u{i % 12}", model="frontier-large", max_tokens=4096,
                 minutes=1.5) for i in range(700)]
    rows += [_req("spread", i, user=f"u{i % 12}", minutes=1.1) for i in range(100)]
    write_lake(home, rows)
    asked = []
    real = relay_streams.stream_requests
    monkeypatch.setattr(relay_streams, "stream_requests",
                        lambda *a, **kw: asked.append(kw.get("rests")) or real(*a, **kw))
    out = _decide(home, {"spread": 40})
    assert out.loc["spread", "decision"] == "review"
    assert len(asked) == 1 + relay_streams.MAX_RESTS
