"""Every record follows the native request-log format; files, ids and truth are consistent."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from detector.simulate.scenario import ARCHETYPES

OPTIONAL = ("org_id", "api_key_id", "endpoint", "model", "client_ip", "user_agent",
            "payment_fingerprint", "account_created_at", "latency_ms", "response")


def _parse_ts(value) -> datetime:
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000)
    assert re.search(r"(Z|[+-]\d\d:\d\d)$", value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_required_fields_and_types(small_run):
    _, _, recs = small_run
    assert len(recs) > 5000
    for rec in recs:
        assert isinstance(rec["request_id"], str) and rec["request_id"]
        assert isinstance(rec["account_id"], str)
        assert isinstance(rec["request"], dict)
        assert "messages" in rec["request"] or "input" in rec["request"]
        _parse_ts(rec["timestamp"])
        for key in OPTIONAL:
            assert key in rec, key
        assert isinstance(rec["response"]["status"], int)
        if rec["response"]["status"] == 200:
            assert set(rec["usage"]) >= {"prompt_tokens", "completion_tokens"}


def test_timestamp_styles_are_mixed(small_run):
    _, _, recs = small_run
    kinds = Counter("epoch" if isinstance(r["timestamp"], int) else
                    "utc" if r["timestamp"].endswith("Z") else "offset" for r in recs)
    assert set(kinds) == {"epoch", "utc", "offset"}
    assert kinds["utc"] > kinds["epoch"]


def test_one_file_per_utc_day_and_shuffled(small_run):
    summary, _, recs = small_run
    assert [p.name for p in summary.files] == [
        "requests-2026-11-24.jsonl", "requests-2026-11-25.jsonl", "requests-2026-11-26.jsonl"]
    for rec in recs:
        day = _parse_ts(rec["timestamp"]).astimezone().astimezone(tz=None)
        utc = day.astimezone(tz=__import__("datetime").timezone.utc).date().isoformat()
        assert rec["_file"] == f"requests-{utc}.jsonl"
    times = [_parse_ts(r["timestamp"]).timestamp() for r in recs if r["_file"].endswith("24.jsonl")]
    assert times != sorted(times)  # out of order within the day


def test_request_ids_unique(small_run):
    _, _, recs = small_run
    ids = [r["request_id"] for r in recs]
    assert len(set(ids)) == len(ids)


def test_usage_and_response_consistent(small_run):
    _, _, recs = small_run
    for r in recs:
        if r["response"]["status"] == 200:
            assert r["usage"]["prompt_tokens"] > 0
            mt = r["request"].get("max_tokens") or r["request"].get("max_completion_tokens")
            if mt and r["response"].get("finish_reason") == "length":
                assert r["usage"]["completion_tokens"] + r["usage"].get("reasoning_tokens", 0) \
                    <= mt * r["request"].get("n", 1)
        else:
            assert "usage" not in r and r["response"]["status"] in (400, 429, 500)


def test_no_label_leaks(small_run):
    _, truth, recs = small_run
    for r in recs:
        blob = " ".join(str(r[k]) for k in ("account_id", "org_id", "api_key_id", "user_agent",
                                             "payment_fingerprint", "request_id"))
        assert "distil" not in blob.lower()
        for arch in ARCHETYPES:
            assert arch not in blob
        assert "metadata" not in r
        assert re.fullmatch(r"acct_[0-9a-f]{10}", r["account_id"])


def test_truth_matches_records(small_run):
    summary, truth, recs = small_run
    accounts = truth["accounts"]
    assert truth["seed"] == 5 and truth["days"] == 3
    per = Counter(r["account_id"] for r in recs)
    assert set(per) == set(accounts)
    for acct, n in per.items():
        assert accounts[acct]["requests"] == n
    tok = Counter()
    for r in recs:
        tok[r["account_id"]] += r.get("usage", {}).get("completion_tokens", 0)
    for acct, t in accounts.items():
        assert t["completion_tokens"] == tok[acct]
        assert 0 <= t["distilled_completion_tokens"] <= t["completion_tokens"]
        assert (t["distilled_completion_tokens"] > 0) == (t["is_distiller"] and t["completion_tokens"] > 0)
        assert t["first_active"] == t["active_dates"][0]
    assert summary.requests == len(recs)
    assert summary.accounts == len(accounts) == 82
    assert {t["archetype"] for t in accounts.values()} == set(ARCHETYPES)
