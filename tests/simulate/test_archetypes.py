"""Each archetype shows the defining traits the issue describes (on the shared small run)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime

import numpy as np
import pytest

from detector.simulate import vocab as V
from detector.simulate.infra import CLOUD_PREFIXES, CLOUD_V6
from detector.simulate.prompts import _COLOURS, _DAYS

START = datetime(2026, 11, 24, tzinfo=UTC).timestamp()
RELEASE = START + 86_400 + 6 * 3600  # small scenario: day 1, 06:00 UTC


def _ts(rec) -> float:
    v = rec["timestamp"]
    if isinstance(v, int):
        return v / 1000
    return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()


def _is_cloud(ip: str) -> bool:
    return ip.startswith(tuple(p + "." for p in CLOUD_PREFIXES)) or ip.startswith(CLOUD_V6)


def _users_text(rec) -> str:
    return "\n".join(m["content"] for m in rec["request"].get("messages", []) if m["role"] == "user")


@pytest.fixture(scope="module")
def by_arch(small_run):
    """archetype -> account_id -> list of records."""
    _, truth, recs = small_run
    out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in recs:
        out[truth["accounts"][r["account_id"]]["archetype"]][r["account_id"]].append(r)
    return out


def _all(by_arch, arch):
    return [r for recs in by_arch[arch].values() for r in recs]


def test_casual_multi_turn_residential_low_volume(by_arch):
    recs = _all(by_arch, "casual")
    multi = np.mean([sum(m["role"] == "user" for m in r["request"]["messages"]) > 1 for r in recs])
    assert multi > 0.2
    assert np.mean([_is_cloud(r["client_ip"]) for r in recs]) == 0
    per_day = [len(v) / 3 for v in by_arch["casual"].values()]
    assert max(per_day) < 100


def test_campus_accounts_share_one_nat_address(small_run, by_arch):
    _, truth, _ = small_run
    groups = defaultdict(list)
    for acct, t in truth["accounts"].items():
        if t["archetype"] == "campus":
            groups[t["shared_ip_group"]].append(acct)
    for members in groups.values():
        ip_sets = [Counter(r["client_ip"] for r in by_arch["campus"][a]) for a in members]
        common = set.intersection(*(set(c) for c in ip_sets))
        assert len(members) >= 2 and len(common) == 1
        assert len({by_arch["campus"][a][0]["payment_fingerprint"] for a in members}) == len(members)


def test_newcomer_accounts_are_brand_new(by_arch):
    for recs in by_arch["newcomer"].values():
        created = datetime.fromisoformat(recs[0]["account_created_at"].replace("Z", "+00:00"))
        assert abs(created.timestamp() - START) <= 4 * 86_400
        assert min(_ts(r) for r in recs) >= created.timestamp()


def test_developer_repeats_prompts_in_office_hours(by_arch):
    recs = _all(by_arch, "developer")
    texts = [_users_text(r) or r["request"].get("input", "") for r in recs]
    assert len(set(texts)) < 0.9 * len(texts)
    assert {r["endpoint"] for r in recs} >= {"/v1/chat/completions", "/v1/embeddings"}


def test_templated_app_one_system_prompt_heavy_template_reuse(by_arch):
    recs = _all(by_arch, "templated_app")
    systems = {r["request"]["messages"][0]["content"] for r in recs}
    assert len(systems) == 1
    slots = sorted(set(V.FIRST_NAMES + V.PRODUCTS + V.ADJECTIVES + _COLOURS + _DAYS), key=len,
                   reverse=True)
    slot_re = re.compile("|".join(re.escape(w) for w in slots))
    masked = {re.sub(r"[A-Z]?\d+", "#", slot_re.sub("X", _users_text(r))) for r in recs}
    assert len(masked) <= 16  # a handful of templates behind a thousand requests
    assert len({r["request"]["user"] for r in recs}) > 50
    assert all(_is_cloud(r["client_ip"]) for r in recs)


def test_classifier_app_logprobs_one_token(by_arch):
    for r in _all(by_arch, "classifier_app"):
        q = r["request"]
        assert q["logprobs"] is True and q["max_tokens"] == 1 and q["temperature"] == 0
        assert 1 <= q["top_logprobs"] <= 5
        if r["response"]["status"] == 200:
            assert r["usage"]["completion_tokens"] == 1


def test_eval_runner_one_day_burst_in_one_harness_mode(by_arch):
    modes = set()
    for recs in by_arch["eval_runner"].values():
        times = np.array(sorted(_ts(r) for r in recs))
        assert times[-1] - times[0] <= 4 * 3600 + 1  # background disabled in the small scenario
        qs = [r["request"] for r in recs]
        if all(q["temperature"] == 0 and "seed" in q for q in qs):
            modes.add("greedy")
        elif all(q.get("n") in (4, 5, 8, 10) and q["temperature"] in (0.6, 0.7, 0.8, 1.0) for q in qs):
            assert len({q["n"] for q in qs}) == 1  # one k per run
            modes.add("pass_at_k")
        else:
            assert all(q["logprobs"] is True and q["max_tokens"] == 1 for q in qs)
            modes.add("mc_logprobs")
    assert modes  # every run is one of the three harness modes
    cot = [("step by step" in _users_text(r)) for r in _all(by_arch, "eval_runner")]
    assert 0 < np.mean(cot) < 1


def test_reseller_many_end_users_and_ips(by_arch):
    recs = _all(by_arch, "reseller")
    assert len({r["client_ip"] for r in recs}) > 50
    assert len({r["request"]["user"] for r in recs}) > 50
    hours = {int(_ts(r) // 3600) % 24 for r in recs}
    assert len(hours) == 24


def test_bulk_harvester_long_outputs_around_the_clock(by_arch):
    recs = _all(by_arch, "bulk_harvester")
    ok = [r for r in recs if r["response"]["status"] == 200]
    casual = [r["usage"]["completion_tokens"] for r in _all(by_arch, "casual") if "usage" in r]
    assert np.median([r["usage"]["completion_tokens"] for r in ok]) > 2 * np.median(casual)
    assert len({int(_ts(r) // 3600) % 24 for r in recs}) == 24
    assert all(_is_cloud(r["client_ip"]) for r in recs)
    assert all(r["request"]["max_tokens"] >= 2048 for r in recs)


def test_hydra_shared_payment_and_subnets_round_robin_under_limits(small_run, by_arch):
    _, truth, _ = small_run
    members = by_arch["hydra"]
    clusters = {truth["accounts"][a]["cluster"] for a in members}
    assert len(clusters) == 1 and None not in clusters
    cards = {recs[0]["payment_fingerprint"] for recs in members.values()}
    assert len(cards) < len(members)
    subnets = {r["client_ip"].rsplit(".", 1)[0] for recs in members.values() for r in recs}
    assert len(subnets) <= 3
    for day in range(3):
        counts = [sum(1 for r in recs if START + day * 86_400 <= _ts(r) < START + (day + 1) * 86_400)
                  for recs in members.values()]
        assert max(counts) <= 60  # each member under a per-account volume limit
        assert max(counts) - min(counts) <= 2  # load-balanced round robin
    for recs in members.values():
        created = datetime.fromisoformat(recs[0]["account_created_at"].replace("Z", "+00:00"))
        assert START - created.timestamp() <= 7 * 86_400


def test_cot_coercion_asks_for_reasoning(by_arch):
    recs = _all(by_arch, "cot_coercion")
    assert all(re.search(r"step|reason|chain of thought", _users_text(r), re.I) for r in recs)
    assert np.mean([r["request"].get("reasoning_effort") == "high" for r in recs]) > 0.3
    assert any(r.get("usage", {}).get("reasoning_tokens", 0) > 0 for r in recs)


def test_logprob_harvester_top_logprobs_20(by_arch):
    for r in _all(by_arch, "logprob_harvester"):
        assert r["request"]["logprobs"] is True and r["request"]["top_logprobs"] == 20
        assert r["request"]["max_tokens"] >= 2048


def test_low_and_slow_human_timing_disjoint_topic_coverage(small_run, by_arch):
    members = by_arch["low_and_slow"]
    assert len(members) == 6
    firsts = {}
    for acct, recs in members.items():
        assert len(recs) / 3 < 60
        assert not any(_is_cloud(r["client_ip"]) for r in recs)
        firsts[acct] = {r["request"]["messages"][0]["content"] for r in recs
                        if len(r["request"]["messages"]) == 1}
    # the accounts' questions are about different subtopics: few opening prompts overlap
    all_first = [t for s in firsts.values() for t in s]
    assert len(set(all_first)) > 0.95 * len(all_first)


def test_release_chaser_moves_to_new_model_within_hours(by_arch):
    for recs in by_arch["release_chaser"].values():
        new = sorted(_ts(r) for r in recs if r["model"] == "frontier-large-2")
        old = [_ts(r) for r in recs if r["model"] != "frontier-large-2"]
        assert new and new[0] >= RELEASE and new[0] - RELEASE <= 5 * 3600
        assert len(new) > 3 * len(old)


def test_proxy_mixer_hides_a_fraction_of_distillation(small_run, by_arch):
    _, truth, _ = small_run
    for acct, recs in by_arch["proxy_mixer"].items():
        t = truth["accounts"][acct]
        assert 0 < t["distilled_completion_tokens"] < t["completion_tokens"]
        assert len({r["client_ip"] for r in recs}) > 20


def test_benign_adoption_of_release_is_gradual(by_arch):
    recs = [r for a in ("casual", "developer", "reseller") for r in _all(by_arch, a)]
    after = [r for r in recs if _ts(r) >= RELEASE]
    share = np.mean([r["model"] == "frontier-large-2" for r in after])
    assert 0 < share < 0.5
    assert not any(r["model"] == "frontier-large-2" for r in recs if _ts(r) < RELEASE)
