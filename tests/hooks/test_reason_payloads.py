"""Structured reasons (schema reason/1) in webhook payloads and `detector verdicts --format
json`: added fields beside the ``reasons`` codes, which stay as they were."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
from typer.testing import CliRunner

from detector.cli.main import app
from detector.hooks.events import record_verdict_events
from detector.hooks.outbox import open_db
from detector.lake.io import write_parquet_atomic
from detector.settings import load_settings
from detector.verdicts import VERDICT_SCHEMA

DAY = "2024-03-01"
EXPL = {"sources": ["model", "model_block_capped"], "anomaly_score": 0.3, "top_features": [
    {"feature": "w7_hv_output_input_ratio", "value": 31.2, "percentile": 93.2, "median": 4.1,
     "contribution": 0.3},
    {"feature": "hv_temperature_range", "value": 0.1, "percentile": 13.0, "median": 0.5,
     "contribution": 0.0015}]}


def _home(tmp_path):
    s = load_settings(tmp_path / "home")
    rows = [("a1", 0.97, "review", "model_block_capped;w7_hv_output_input_ratio;"
             "hv_temperature_range", json.dumps(EXPL)),
            ("a2", 0.1, "allow", "", None)]
    keys = ("account_id", "score", "decision", "reasons", "explanation_json")
    full = [{**{f.name: None for f in VERDICT_SCHEMA}, **dict(zip(keys, r, strict=True)),
             "date": dt.date.fromisoformat(DAY), "rule_hits": [], "shadow_hits": [],
             "model_version": "m1", "ruleset_hash": "rs1", "run_id": "run1"} for r in rows]
    table = pa.Table.from_pylist(full, schema=VERDICT_SCHEMA)
    write_parquet_atomic(s.verdicts_dir / f"date={DAY}" / "verdicts.parquet", table)
    return s


def _check(structured: list[dict]) -> None:
    assert [r["code"] for r in structured] == ["model_block_capped", "w7_hv_output_input_ratio"]
    assert all(r["schema"] == "reason/1" for r in structured)
    assert structured[0]["kind"] == "policy" and structured[0]["text"].endswith(".")
    assert structured[1]["text"] == ("Output tokens per input token (7 days) 31.2 - higher than "
                                     "93% of the day's accounts (median 4.1)")
    assert (structured[1]["percentile"], structured[1]["median"]) == (93.2, 4.1)


def test_webhook_payload_carries_structured_reasons(tmp_path):
    s = _home(tmp_path)
    assert record_verdict_events(s, [DAY]) == 1
    conn = open_db(s)
    try:
        [(payload_json,)] = conn.execute("SELECT payload_json FROM hook_events").fetchall()
    finally:
        conn.close()
    payload = json.loads(payload_json)
    assert payload["reasons"] == ["model_block_capped", "w7_hv_output_input_ratio",
                                  "hv_temperature_range"]  # the codes are unchanged
    _check(payload["reasons_structured"])


def test_verdicts_json_adds_reasons_structured(tmp_path):
    s = _home(tmp_path)
    out = CliRunner().invoke(app, ["--home", str(s.home), "verdicts", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {r["account_id"]: r for r in json.loads(out.stdout)}
    assert {"account_id", "date", "score", "decision", "reasons", "cluster_id"} <= set(rows["a1"])
    assert "explanation_json" not in rows["a1"]
    _check(rows["a1"]["reasons_structured"])
    assert rows["a2"]["reasons_structured"] == []
    csv = CliRunner().invoke(app, ["--home", str(s.home), "verdicts", "--format", "csv"])
    assert csv.stdout.splitlines()[0].split(",")[:6] == [
        "account_id", "date", "score", "decision", "reasons", "cluster_id"]
    assert "reasons_structured" not in csv.stdout


def test_analyst_decision_events_carry_structured_reasons(tmp_path):
    """The case store assembles analyst events with the verdict's codes only; the outbox
    (hooks) adds the same reason/1 sentences as the batch event, values from the verdict's
    explanation; an account without a verdict gets an empty list."""
    from detector.cases import CaseStore
    from detector.hooks import outbox

    s = _home(tmp_path)
    store = CaseStore(s, outbox=outbox)
    store.record_decision("a1", "confirm-block", "alice", date=DAY)
    store.record_decision("nobody", "escalate", "alice", date=DAY)
    conn = open_db(s)
    try:
        rows = conn.execute("SELECT subject, payload_json FROM hook_events ORDER BY seq")
        payloads = {subject: json.loads(p) for subject, p in rows.fetchall()}
    finally:
        conn.close()
    a1 = payloads["a1"]
    assert (a1["source"], a1["analyst_decision"]) == ("analyst", "confirm-block")
    assert a1["reasons"] == ["model_block_capped", "w7_hv_output_input_ratio",
                             "hv_temperature_range"]
    _check(a1["reasons_structured"])
    assert payloads["nobody"]["reasons"] == [] and payloads["nobody"]["reasons_structured"] == []
