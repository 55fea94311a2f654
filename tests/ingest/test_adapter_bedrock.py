"""AWS Bedrock model-invocation logs. The fixture is written from AWS's
public documentation of model invocation logging (S3 delivery, gzipped JSON Lines)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.ingest.adapters.bedrock import map_record
from detector.ingest.formats import detect
from detector.ingest.normalize import Limits
from detector.ingest.parse import safe_normalize
from detector.lake.db import connect
from detector.lake.schema import REQUEST_SCHEMA

from .ingest_helpers import ingest_counted as ingest
from .ingest_helpers import rows_by_id as rows

FIX = next((Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "bedrock").glob("*.gz"))


def test_detected_from_structure():
    assert detect(FIX) == "bedrock"


def test_s3_delivery_file(home):
    res = ingest(home, [FIX])
    assert (res.read, res.accepted, res.quarantined) == (12, 12, 0)
    got = rows(home)
    conv = got["6b9c1f7e-2a40-4d1b-9f0e-000000000000"]
    assert conv["account_id"] == "arn:aws:sts::111122223333:assumed-role/app-backend/session-1"
    assert (conv["org_id"], conv["endpoint"], conv["model"]) == (
        "111122223333", "Converse", "anthropic.claude-3-haiku-20240307-v1:0")
    assert (conv["prompt_text"], conv["system_prompt"]) == ("List 0 prime numbers", "Answer briefly.")
    assert (conv["max_tokens"], conv["temperature"]) == (512, 0.3)
    assert (conv["prompt_tokens"], conv["completion_tokens"], conv["latency_ms"]) == (18, 9, 812.0)
    assert (conv["output_chars"], conv["finish_reason"]) == (len("2, 3, 5"), "end_turn")
    assert str(conv["ts"]) == "2026-11-27 15:00:03+00:00"
    anth = got["6b9c1f7e-2a40-4d1b-9f0e-000000000001"]
    assert (anth["prompt_text"], anth["max_tokens"], anth["finish_reason"]) == (
        "Explain topic 1 step by step", 1024, "max_tokens")
    titan = got["6b9c1f7e-2a40-4d1b-9f0e-000000000002"]
    assert (titan["prompt_text"], titan["max_tokens"], titan["output_chars"]) == (
        "Write a tagline number 2", 100, len("Fresh ideas daily."))
    throttled = got["6b9c1f7e-2a40-4d1b-9f0e-000000000011"]
    assert throttled["status"] == 429 and throttled["completion_tokens"] is None
    meta = orjson.loads(conv["metadata_json"])
    assert meta["schemaType"] == "ModelInvocationLog" and meta["region"] == "us-east-1"


def test_account_key_account_groups_every_caller(home):
    ingest(home, [FIX], account_key="account")
    assert {r["account_id"] for r in rows(home).values()} == {"111122223333"}


def test_missing_identity_is_quarantined_naming_the_option(home, tmp_path):
    lines = gzip.decompress(FIX.read_bytes()).decode().splitlines()
    rec = json.loads(lines[0])
    rec.pop("identity")
    p = tmp_path / "one.jsonl"
    p.write_text("\n".join([json.dumps(rec), *lines[1:]]) + "\n")
    res = ingest(home, [p])
    assert (res.accepted, res.quarantined) == (11, 1)
    reason = connect(home).execute("SELECT reason FROM quarantine").fetchone()[0]
    assert reason.startswith("missing_field: account_id") and "--account-key arn" in reason


_s = st.text(min_size=1, max_size=10).filter(str.strip)


@st.composite
def invocation(draw):
    rec = {"schemaType": "ModelInvocationLog", "schemaVersion": "1.0",
           "timestamp": "2026-11-27T15:00:03Z", "accountId": draw(_s),
           "identity": {"arn": draw(_s)}, "requestId": draw(_s), "modelId": draw(_s),
           "operation": draw(st.sampled_from(["Converse", "InvokeModel"]))}
    inp = {}
    if draw(st.booleans()):
        inp["inputBodyJson"] = {"messages": [{"role": "user", "content": [{"text": draw(_s)}]}]}
    if draw(st.booleans()):
        inp["inputTokenCount"] = draw(st.integers(0, 10**6))
    out = {}
    if draw(st.booleans()):
        out["outputBodyJson"] = {"output": {"message": {"content": [{"text": draw(_s)}]}},
                                 "stopReason": "end_turn"}
    if draw(st.booleans()):
        out["outputTokenCount"] = draw(st.integers(0, 10**6))
    if inp:
        rec["input"] = inp
    if out:
        rec["output"] = out
    if draw(st.booleans()):
        rec["errorCode"] = draw(st.sampled_from(["ThrottlingException", "InternalServerException"]))
    return rec


@settings(max_examples=150, deadline=None)
@given(invocation())
def test_property_every_carried_field_arrives(rec):
    row = safe_normalize(map_record(rec), Limits(), [])
    assert isinstance(row, tuple), row
    got = dict(zip([f.name for f in REQUEST_SCHEMA], row, strict=False))
    assert (got["request_id"], got["account_id"], got["model"], got["org_id"]) == (
        rec["requestId"], rec["identity"]["arn"], rec["modelId"], rec["accountId"])
    inp, out = rec.get("input", {}), rec.get("output", {})
    if "inputBodyJson" in inp:
        assert got["prompt_chars"] > 0
    if "inputTokenCount" in inp:
        assert got["prompt_tokens"] == inp["inputTokenCount"]
    if "outputTokenCount" in out:
        assert got["completion_tokens"] == out["outputTokenCount"]
    if "outputBodyJson" in out:
        assert got["output_chars"] is not None and got["finish_reason"] == "end_turn"
    if "errorCode" in rec:
        assert got["status"] in (429, 500)


@pytest.mark.parametrize("key", ["arn", "account"])
def test_counts_hold_with_repeats_and_bad_lines(home, tmp_path, key):
    lines = gzip.decompress(FIX.read_bytes()).decode().splitlines()
    p = tmp_path / "mixed.jsonl.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("\n".join([*lines, *lines[:2], "{oops"]) + "\n")
    res = ingest(home, [p], account_key=key)
    assert (res.read, res.accepted, res.duplicates, res.quarantined) == (15, 12, 2, 1)
