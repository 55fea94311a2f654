"""Canonical row values of single records, computed by hand from the spec's example."""

from __future__ import annotations

import hashlib

import pytest

from detector.ingest.ipnet import ip_prefix
from detector.ingest.normalize import BadRecord, Limits, normalize, prompt_hash
from detector.ingest.tables import ROW_FIELDS

from .ingest_helpers import record

NAMES = [f.name for f in ROW_FIELDS]


def row_of(rec: dict, limits: Limits | None = None) -> dict:
    flags: list[str] = []
    return dict(zip(NAMES, normalize(rec, limits or Limits(), flags), strict=True))


def test_spec_example_maps_to_canonical_columns():
    row = row_of(record(7))
    assert row["request_id"] == "req_7"
    # 2026-11-27T13:45:12.123Z in epoch microseconds
    assert row["ts"] == 1_795_787_112_123_000
    assert row["ip_prefix"] == "203.0.113.0/24"
    assert row["n_messages"] == 2 and row["n_user_turns"] == 1
    assert row["system_prompt"] == "You are a helpful assistant."
    assert row["prompt_text"] == "Explain step by step how you would solve: 17 * 23"
    assert row["prompt_chars"] == 49
    expected = hashlib.blake2b(b"explain step by step how you would solve: 17 * 23",
                               digest_size=8).hexdigest()
    assert row["prompt_hash"] == expected
    assert (row["max_tokens"], row["temperature"], row["n"]) == (4096, 0.7, 1)
    assert (row["logprobs"], row["top_logprobs"], row["stream"]) == (True, 20, False)
    assert (row["status"], row["finish_reason"]) == (200, "stop")
    assert (row["prompt_tokens"], row["completion_tokens"], row["latency_ms"]) == (31, 412, 2310.0)
    assert row["account_created_at"] == 1_795_161_600_000_000
    assert row["metadata_json"] is None


def test_prompt_hash_ignores_case_and_whitespace():
    assert prompt_hash("Hello   World\n") == prompt_hash("hello world")
    assert prompt_hash("hello world") != prompt_hash("hello worlds")


@pytest.mark.parametrize("ip,prefix", [
    ("203.0.113.7", "203.0.113.0/24"),
    ("2001:db8:1:2::1", "2001:db8:1::/48"),
    ("::ffff:198.51.100.9", "198.51.100.0/24"),
    ("203.0.113.7:443", "203.0.113.0/24"),
    ("[2001:db8::1]:443", "2001:db8::/48"),
    ("not-an-ip", None),
    ("300.1.1.1", None),
])
def test_ip_prefix(ip, prefix):
    assert ip_prefix(ip) == prefix


def test_invalid_ip_kept_with_null_prefix():
    row = row_of(record(client_ip="unknown"))
    assert row["client_ip"] == "unknown" and row["ip_prefix"] is None


def test_content_parts_and_images():
    req = {"messages": [
        {"role": "developer", "content": [{"type": "text", "text": "Be terse."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Describe"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "text", "text": "this picture"}]},
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "And the colour?"}],
        "max_completion_tokens": 50, "reasoning_effort": "high", "n": 3}
    row = row_of(record(request=req))
    assert row["prompt_text"] == "Describe\nthis picture\nAnd the colour?"
    assert row["system_prompt"] == "Be terse."
    assert (row["n_messages"], row["n_user_turns"]) == (4, 2)
    assert (row["max_tokens"], row["reasoning_effort"], row["n"]) == (50, "high", 3)
    assert '"image_parts":1' in row["metadata_json"]


def test_prompt_and_input_bodies():
    row = row_of(record(request={"prompt": "Once upon a time", "logprobs": 5}))
    assert (row["prompt_text"], row["n_messages"], row["logprobs"], row["top_logprobs"]) == (
        "Once upon a time", 1, True, 5)
    resp_api = {"input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
                "instructions": "sys", "max_output_tokens": 9, "reasoning": {"effort": "low"}}
    row = row_of(record(request=resp_api))
    assert (row["prompt_text"], row["system_prompt"], row["max_tokens"],
            row["reasoning_effort"]) == ("hi", "sys", 9, "low")


def test_empty_messages_are_valid():
    row = row_of(record(request={"messages": []}))
    assert (row["prompt_text"], row["n_messages"], row["prompt_chars"]) == ("", 0, 0)


def test_unknown_fields_go_to_metadata():
    row = row_of(record(metadata={"team": "x"}, region="eu"))
    assert row["metadata_json"] == '{"team":"x","region":"eu"}'


@pytest.mark.parametrize("change,code", [
    ({"request_id": None}, "missing_field"),
    ({"account_id": 42}, "wrong_type"),
    ({"request": "hello"}, "wrong_type"),
    ({"timestamp": "yesterday"}, "bad_timestamp"),
    ({"timestamp": True}, "bad_timestamp"),
    ({"timestamp": "2999-01-01T00:00:00Z"}, "timestamp_out_of_range"),
    ({"timestamp": "1970-01-01T00:00:00Z"}, "timestamp_out_of_range"),
    ({"usage": {"prompt_tokens": "many"}}, "wrong_type"),
    ({"client_ip": 12345}, "wrong_type"),
    ({"latency_ms": "slow"}, "wrong_type"),
])
def test_bad_records_raise_with_reason_code(change, code):
    rec = record()
    rec.update(change)
    with pytest.raises(BadRecord, match=f"^{code}"):
        normalize(rec, Limits(), [])


def test_missing_required_field():
    rec = record()
    del rec["timestamp"]
    with pytest.raises(BadRecord, match="^missing_field: timestamp"):
        normalize(rec, Limits(), [])


def test_redacted_bodies_keep_no_text():
    row = row_of(record(), Limits(redact_bodies=True))
    assert "17 * 23" not in row["request_json"]
    assert "[redacted 49 chars]" in row["request_json"]
    assert row["prompt_hash"] == prompt_hash("Explain step by step how you would solve: 17 * 23")


def test_end_user_id_is_stored_as_a_hash_from_user_or_safety_identifier():
    from detector.ingest.fastpath import fast_row

    rec = record(7)
    assert row_of(rec)["end_user_hash"] is None
    rec["request"]["user"] = "end-user-42"
    expected = hashlib.blake2b(b"end-user-42", digest_size=8).hexdigest()
    assert row_of(rec)["end_user_hash"] == expected
    assert dict(zip(NAMES, fast_row(rec, Limits()), strict=True))["end_user_hash"] == expected
    del rec["request"]["user"]
    rec["request"]["safety_identifier"] = "end-user-42"
    assert row_of(rec)["end_user_hash"] == expected
    rec["request"]["safety_identifier"] = 42  # not a string: no id, not an error
    assert row_of(rec)["end_user_hash"] is None
