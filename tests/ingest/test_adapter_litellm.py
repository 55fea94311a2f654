"""LiteLLM: SpendLogs rows and the StandardLoggingPayload.

Fixtures in ``tests/fixtures/ingest/litellm/`` are written from LiteLLM's public documentation
(``docs/proxy/logging_spec.md``: the StandardLoggingPayload fields; ``schema.prisma``:
``LiteLLM_SpendLogs``), not from the adapter.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from detector.cli.main import app
from detector.errors import InputError
from detector.ingest.adapters.litellm import map_record
from detector.ingest.formats import detect
from detector.ingest.normalize import Limits
from detector.ingest.parse import safe_normalize
from detector.lake.db import connect
from detector.lake.schema import REQUEST_SCHEMA

from .ingest_helpers import ingest_counted as ingest

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "litellm"
SLP = FIX / "standard_logging_payload.jsonl"
SPEND = FIX / "spend_logs.json"


def rows(home) -> list[dict]:
    cur = connect(home).execute("SELECT * FROM requests ORDER BY request_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def reasons(home) -> list[str]:
    return [r[0] for r in connect(home).execute(
        "SELECT reason FROM quarantine ORDER BY source_line").fetchall()]


def test_both_shapes_are_detected_as_litellm():
    assert detect(SLP) == "litellm" and detect(SPEND) == "litellm"


def test_standard_logging_payload_is_read(home):
    """Was: 40/40 quarantined (``id`` not ``request_id``, epoch seconds read as ms)."""
    res = ingest(home, [SLP])
    assert (res.read, res.accepted, res.quarantined) == (12, 12, 0)
    got = {r["request_id"]: r for r in rows(home)}
    first = got["chatcmpl-slp-000"]
    assert str(first["ts"]) == "2026-11-27 13:45:12.123000+00:00"
    assert first["latency_ms"] == pytest.approx(1500.0)
    assert (first["account_id"], first["org_id"], first["api_key_id"]) == (
        "u-alice", "team-research", "hk_a1")
    assert first["model"] == "gpt-4o-mini"  # the client's model_group
    meta = orjson.loads(first["metadata_json"])
    assert meta["litellm"]["model"] == "openai/gpt-4o-mini"  # the routed one, kept beside
    assert first["user_agent"] == "OpenAI/Python 1.54.0"
    assert first["client_ip"] == "198.51.100.10"
    assert (first["prompt_text"], first["system_prompt"]) == (
        "Question number 0: what is 0 + 0?", "You are concise.")
    assert (first["temperature"], first["max_tokens"], first["logprobs"]) == (0.2, 256, True)
    assert (first["prompt_tokens"], first["completion_tokens"]) == (21, 40)
    assert first["end_user_hash"] is not None and got["chatcmpl-slp-001"]["end_user_hash"] is None
    assert first["status"] is None and first["finish_reason"] == "stop"


def test_failed_calls_are_failed_requests(home):
    """Was: ``status: failure`` rows counted as normal requests."""
    ingest(home, [SLP, SPEND])
    got = {r["request_id"]: r for r in rows(home)}
    failed = got["chatcmpl-slp-005"]
    assert failed["status"] == 429  # error_information.error_code
    assert "RateLimitError" in orjson.loads(failed["response_json"])["error"]
    assert got["chatcmpl-spend-007"]["status"] == 400  # SpendLogs: metadata.error_information
    assert all(r["status"] is None for k, r in got.items()
               if k not in ("chatcmpl-slp-005", "chatcmpl-spend-007"))


def test_spend_logs_keep_requested_model_user_agent_and_end_user(home):
    """Was: ``openai/gpt-4o-mini`` stored, ``model_group``, ``metadata.user_agent`` and the
    ``end_user`` column ignored."""
    ingest(home, [SPEND], account_key="key")
    got = {r["request_id"]: r for r in rows(home)}
    one = got["chatcmpl-spend-001"]
    assert one["model"] == "gpt-4o-mini"
    assert orjson.loads(one["metadata_json"])["litellm"]["model"] == "openai/gpt-4o-mini"
    assert one["user_agent"] == "litellm-client/1.2 (linux)"
    assert one["end_user_hash"] is not None and got["chatcmpl-spend-000"]["end_user_hash"] is None
    assert orjson.loads(one["request_json"])["user"] == "enduser-1"


@pytest.mark.parametrize("key,expected", [
    ("user", {"u-alice", "u-bob", "u-carol"}),
    ("team", {"team-research", "team-apps"}),
    ("key", {"hk_a1", "hk_b2", "hk_c3"}),
])
def test_account_key_is_one_unit_for_the_whole_file(home, key, expected):
    """Was: user, else team_id, else api_key per row: one team's traffic split."""
    ingest(home, [SLP], account_key=key)
    assert {r["account_id"] for r in rows(home)} == expected


def test_rows_without_the_chosen_unit_are_quarantined_naming_the_option(home):
    res = ingest(home, [SPEND])  # default --account-key user; row 9 has no user
    assert (res.accepted, res.quarantined) == (9, 1)
    [reason] = reasons(home)
    assert reason.startswith("missing_field: account_id") and "--account-key" in reason


def test_a_file_mostly_without_the_unit_is_unreadable_and_says_which_option(home):
    """end_user is set on half the payload rows only: --account-key end_user quarantines the
    other half, which is not more than half; on SpendLogs (5 of 10 blank) likewise. A file
    where no row has the unit stops with exit 2 naming --account-key."""
    lines = [json.loads(x) for x in SLP.read_text().splitlines()]
    for rec in lines:
        rec["metadata"]["user_api_key_user_id"] = None
    p = home.home.parent / "nouser.jsonl"
    p.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    with pytest.raises(InputError, match="--account-key"):
        ingest(home, [p])
    assert not home.requests_dir.exists() or not any(home.requests_dir.rglob("*.parquet"))


def test_account_id_overrides_for_the_whole_file(home):
    ingest(home, [SPEND], account_id="acct-gateway")
    assert {r["account_id"] for r in rows(home)} == {"acct-gateway"}


def test_account_key_validation(home, tmp_path):
    with pytest.raises(InputError, match="litellm.*user, team, key, end_user"):
        ingest(home, [SLP], account_key="org")
    native = tmp_path / "n.jsonl"
    native.write_text(json.dumps({"request_id": "r", "timestamp": "2026-11-27T00:00:00Z",
                                  "account_id": "a", "request": {}}) + "\n")
    with pytest.raises(InputError, match="--account-key"):
        ingest(home, [native], account_key="team")


def test_account_key_from_detector_toml(tmp_path):
    from detector.settings import load_settings

    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "detector.toml").write_text('account_key = "team"\n')
    home = load_settings(tmp_path / "h")
    ingest(home, [SLP])
    assert {r["account_id"] for r in rows(home)} == {"team-research", "team-apps"}


def test_cli_account_key_and_json_fill_rates(tmp_path):
    out = CliRunner().invoke(app, ["--home", str(tmp_path / "h"), "ingest", str(SLP),
                                   "--account-key", "team", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["accepted"] == 12
    assert doc["fill_rates"]["prompt"] == 1.0 and doc["fill_rates"]["payment_fingerprint"] == 0.0
    assert "infra_shared_payment_fresh_accounts" in doc["blind"]["blind_rules"]
    bad = CliRunner().invoke(app, ["--home", str(tmp_path / "h2"), "ingest", str(SLP),
                                   "--account-key", "nope"])
    assert bad.exit_code == 2


# --- property: no accepted record lacks a field its source carried --------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                max_size=12).filter(str.strip)


@st.composite
def payloads(draw):
    rec = {"id": draw(_text), "call_type": "acompletion",
           "startTime": draw(st.floats(1.7e9, 1.79e9)),
           "model_group": draw(st.one_of(st.none(), _text)),
           "metadata": {"user_api_key_user_id": draw(_text),
                        "user_api_key_hash": draw(st.one_of(st.none(), _text)),
                        "user_api_key_team_id": draw(st.one_of(st.none(), _text))}}
    opt = {
        "model": _text, "requester_ip_address": st.sampled_from(["10.0.0.1", "2001:db8::1"]),
        "end_user": _text, "prompt_tokens": st.integers(0, 10**6),
        "completion_tokens": st.integers(0, 10**6),
        "messages": st.lists(st.fixed_dictionaries({"role": st.just("user"),
                                                    "content": _text}), min_size=1, max_size=3),
        "response": st.fixed_dictionaries({"choices": st.just(
            [{"finish_reason": "stop", "message": {"content": "x"}}])}),
        "status": st.sampled_from(["success", "failure"]),
        "model_parameters": st.fixed_dictionaries({"temperature": st.floats(0, 2)}),
    }
    for k, strat in opt.items():
        if draw(st.booleans()):
            rec[k] = draw(strat)
    if draw(st.booleans()):
        rec["endTime"] = rec["startTime"] + draw(st.floats(0, 600))
    if draw(st.booleans()):
        rec["metadata"]["user_agent"] = draw(_text)
    return rec


_COLS = [f.name for f in REQUEST_SCHEMA]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_property_every_carried_field_arrives(rec):
    row = safe_normalize(map_record(rec), Limits(), [])
    assert isinstance(row, tuple), row
    got = dict(zip(_COLS, row, strict=False))
    assert got["request_id"] == rec["id"]
    assert got["account_id"] == rec["metadata"]["user_api_key_user_id"]
    if rec.get("model_group") or rec.get("model"):
        assert got["model"] == (rec.get("model_group") or rec.get("model"))
    for src, col in (("requester_ip_address", "client_ip"), ("end_user", "end_user_hash"),
                     ("prompt_tokens", "prompt_tokens"),
                     ("completion_tokens", "completion_tokens"), ("endTime", "latency_ms"),
                     ("model_parameters", "temperature")):
        if src in rec:
            assert got[col] is not None, (src, col)
    if "messages" in rec:
        assert got["prompt_chars"] > 0
    if "user_agent" in rec["metadata"]:
        assert got["user_agent"] == rec["metadata"]["user_agent"]
    if rec.get("status") == "failure":
        assert got["status"] == 500
    if rec["metadata"].get("user_api_key_hash"):
        assert got["api_key_id"] == rec["metadata"]["user_api_key_hash"]


def test_property_counts_hold_on_a_mixed_file(home, tmp_path):
    """read = accepted + duplicates + quarantined over both shapes, bad rows and repeats."""
    lines = SLP.read_text().splitlines()
    spend = json.loads(SPEND.read_text())
    mixed = lines + lines[:3] + [json.dumps(r) for r in spend] + ["{not json", "[]"]
    p = tmp_path / "mixed.jsonl"
    p.write_text("\n".join(mixed) + "\n")
    res = ingest(home, [p])
    assert res.read == len(mixed)
    assert (res.accepted, res.duplicates, res.quarantined) == (21, 3, 3)
