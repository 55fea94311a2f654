"""Adapters: each fixture (written from the format's public documentation) maps onto the
native schema; fields an adapter cannot fill stay null."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.errors import InputError
from detector.ingest import ingest_paths
from detector.ingest.formats import detect
from detector.lake.db import connect

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


def rows(home, where: str = "true") -> list[dict]:
    cur = connect(home).execute(f"SELECT * FROM requests WHERE {where} ORDER BY request_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def reasons(home) -> list[str]:
    return [r[0] for r in connect(home).execute(
        "SELECT reason FROM quarantine ORDER BY source_line").fetchall()]


def ingest(home, path: Path, fmt: str = "auto", **kw):
    res = ingest_paths(home, [path], fmt=fmt, progress=False, workers=1, **kw)
    assert res.read == res.accepted + res.duplicates + res.quarantined
    return res


@pytest.mark.parametrize("name,fmt", [
    ("litellm_spend_logs.json", "litellm"), ("litellm_spend_logs.csv", "litellm"),
    ("otel_genai_spans.jsonl", "otel"), ("mapped/requests.csv", "mapped"),
])
def test_auto_detection(name, fmt):
    assert detect(FIX / name) == fmt


def test_native_is_the_default_guess(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"request_id": "a"}\n')
    assert detect(p) == "native"


def test_litellm_json_export(home):
    res = ingest(home, FIX / "litellm_spend_logs.json")
    # default --account-key user: the row without a user is quarantined naming the option,
    # never billed to its key instead (one billing unit per file)
    assert (res.read, res.accepted, res.quarantined) == (3, 1, 2)
    assert "--account-key user" in reasons(home)[0]


def test_litellm_json_export_by_key(home):
    res = ingest(home, FIX / "litellm_spend_logs.json", account_key="key")
    assert (res.read, res.accepted, res.quarantined) == (3, 2, 1)
    first, second = rows(home)
    assert first["request_id"] == "chatcmpl-9a1b2c3d"
    assert (first["org_id"], first["client_ip"], first["ip_prefix"]) == (
        "team_7", "203.0.113.7", "203.0.113.0/24")
    assert first["api_key_id"].startswith("88dc28d0")
    assert (first["prompt_text"], first["system_prompt"]) == ("What is 17 * 23?", "You are terse.")
    assert (first["prompt_tokens"], first["completion_tokens"]) == (21, 130)
    assert first["latency_ms"] == pytest.approx(2310.0)
    assert (first["finish_reason"], first["output_chars"]) == ("stop", 3)
    assert first["status"] is None  # LiteLLM logs no HTTP status
    meta = orjson.loads(first["metadata_json"])
    assert meta["user_api_key_alias"] == "prod" and meta["litellm"]["spend"] == 0.000213
    assert first["account_id"] == "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
    assert second["account_id"] == "1f2e3d" and second["client_ip"] is None
    assert second["status"] == 500  # status: failure is a failed request
    assert reasons(home)[0].startswith("missing_field: request_id")


def test_litellm_csv_export(home):
    res = ingest(home, FIX / "litellm_spend_logs.csv")
    assert (res.read, res.accepted, res.quarantined) == (2, 1, 1)
    [row] = rows(home)
    assert row["prompt_text"] == "Write a haiku\nabout rain"
    assert (row["account_id"], row["prompt_tokens"], row["finish_reason"]) == ("acct_0042", 10, "length")
    assert str(row["ts"]) == "2026-11-28 09:00:00+00:00"
    assert "naive_timestamp" in row["metadata_json"]
    assert reasons(home)[0].startswith("bad_timestamp")
    # the first record spans physical lines 2-4 (a quoted multi-line field): the bad one is on 5
    assert connect(home).execute("SELECT source_line FROM quarantine").fetchone()[0] == 5


def test_otel_genai_spans(home):
    res = ingest(home, FIX / "otel_genai_spans.jsonl")
    assert (res.read, res.accepted, res.quarantined) == (2, 1, 1)  # the HTTP span is no request
    [row] = rows(home)
    assert (row["request_id"], row["account_id"], row["model"]) == ("chatcmpl-otel-1", "acct_0042", "gpt-4o")
    assert (row["ip_prefix"], row["max_tokens"], row["temperature"]) == ("2001:db8:1::/48", 200, 0.5)
    assert (row["prompt_text"], row["prompt_tokens"], row["completion_tokens"]) == (
        "Weather in Paris?", 97, 52)
    assert row["finish_reason"] == "stop" and row["latency_ms"] == pytest.approx(2310.0)
    assert str(row["ts"]) == "2026-11-27 13:45:12.123000+00:00"
    assert row["org_id"] is None and row["user_agent"] is None
    [reason] = reasons(home)  # the reason names the options to give
    assert reason.startswith("missing_field: account_id") and "--account-key" in reason


def test_mapped_csv(home):
    res = ingest(home, FIX / "mapped" / "requests.csv")
    assert (res.read, res.accepted, res.quarantined) == (3, 2, 1)
    first, second = rows(home)
    assert (first["request_id"], first["account_id"], first["prompt_text"]) == (
        "m-1", "acct_0042", "Summarise this article")
    assert (first["max_tokens"], first["prompt_tokens"], first["completion_tokens"]) == (512, 40, 300)
    assert str(first["ts"]) == "2026-11-27 13:45:12.123000+00:00"
    assert orjson.loads(first["metadata_json"]) == {"region": "eu"}
    assert (second["prompt_text"], second["n_messages"]) == ("", 0)
    assert reasons(home) == ["missing_field: timestamp"]


def test_mapped_parquet(home, tmp_path):
    folder = tmp_path / "pq"
    folder.mkdir()
    shutil.copy(FIX / "mapped" / "mapping.toml", folder / "mapping.toml")
    table = pa.table({"req_id": ["p-1", "p-2"], "event_time": [1795787112123, 1795787112124],
                      "customer": ["a", "b"], "ip": ["10.1.2.3", None],
                      "prompt_text": ["hi", "yo"], "max_toks": [5, None]})
    pq.write_table(table, folder / "requests.parquet")
    res = ingest(home, folder / "requests.parquet")
    assert (res.read, res.accepted) == (2, 2)
    assert [r["max_tokens"] for r in rows(home)][0] == 5


def test_mapped_without_mapping_is_an_input_error(home, tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("x,y\n1,2\n")
    with pytest.raises(InputError, match="mapping"):
        ingest_paths(home, [p], fmt="mapped", progress=False)


def test_dry_run_counts_and_reports_without_storing(home):
    res = ingest_paths(home, [FIX / "litellm" / "standard_logging_payload.jsonl"], progress=False,
                       workers=1, dry_run=True)
    assert res.dry_run and (res.read, res.accepted, res.quarantined) == (12, 12, 0)
    assert res.fill_rates["ip"] == 1.0 and res.fill_rates["account_creation"] == 0.0
    assert res.blind["blind_rules"]["infra_shared_payment_fresh_accounts"] == [
        "account_creation", "payment_fingerprint"]
    assert not home.requests_dir.exists() or not any(home.requests_dir.rglob("*.parquet"))
