"""OpenTelemetry GenAI adapter: only model calls are requests, agent and tool spans give context,
current and deprecated attribute names, the account chosen with --account-key / --account-id,
content from OTLP log records, OTLP protobuf exports (fixtures written from the GenAI semantic
conventions)."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import orjson
import pytest

from detector.errors import InputError
from detector.ingest import ingest_paths
from detector.ingest.adapters.otel import Context, map_span, records_for
from detector.ingest.formats import detect
from detector.ingest.normalize import Limits
from detector.ingest.parse import parse_line
from detector.lake.db import connect
from detector.lake.schema import COLUMNS

from .ingest_helpers import check_counts

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "otel"
NAMES = [c[0] for c in COLUMNS]


def rows(home) -> list[dict]:
    cur = connect(home).execute("SELECT * FROM requests ORDER BY ts")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def reasons(home) -> list[str]:
    return [r[0] for r in connect(home).execute(
        "SELECT reason FROM quarantine ORDER BY source_line").fetchall()]


def ingest(home, *paths: Path, **kw):
    res = ingest_paths(home, list(paths), progress=False, workers=kw.pop("workers", 1), **kw)
    return check_counts(res)


def test_log_records_without_their_spans_are_quarantined_not_dropped(home, tmp_path):
    logs = shutil.copy(FIX / "openai_v2_logs.jsonl", tmp_path / "logs.jsonl")
    res = ingest(home, logs, fmt="otel", account_key="service.name")
    assert res.read == res.quarantined > 0 and res.accepted == 0
    assert all(r.startswith("unmatched_log_record: gen_ai.") for r in reasons(home))


@pytest.mark.parametrize("name", ["agent_run.jsonl", "deprecated_names.jsonl",
                                  "openai_v2_traces.jsonl", "openai_v2_logs.jsonl"])
def test_detected_as_otel(name):
    assert detect(FIX / name) == "otel"


# --- defect: every gen_ai span became a request (agent run: 4 requests, tokens twice) ----------

def test_agent_run_is_one_chat_and_one_embeddings_request(home):
    res = ingest(home, FIX / "agent_run.jsonl")
    assert (res.read, res.accepted, res.quarantined) == (2, 2, 0)
    chat, emb = rows(home)
    # account: the user.id of the invoke_agent span above both calls (no option given)
    assert chat["account_id"] == emb["account_id"] == "u_314159"
    assert (chat["request_id"], chat["model"], chat["endpoint"]) == (
        "chatcmpl-agent-1", "gpt-4o", None)
    # only the chat span's own tokens: the agent span's sums are not counted again
    assert (chat["prompt_tokens"], chat["completion_tokens"], chat["reasoning_tokens"]) == (
        120, 40, 8)
    assert (chat["prompt_text"], chat["system_prompt"]) == ("Weather in Paris this weekend?",
                                                            "You plan trips.")
    assert chat["output_chars"] == len("Let me check the forecast.")  # gen_ai.output.messages
    assert (chat["max_tokens"], chat["temperature"], chat["finish_reason"]) == (
        400, 0.3, "tool_calls")
    meta = orjson.loads(chat["metadata_json"])
    assert (meta["conversation_id"], meta["agent_name"], meta["provider"], meta["operation"]) == (
        "conv_5f2a9c", "TripPlanner", "openai", "chat")
    assert (emb["endpoint"], emb["model"], emb["prompt_tokens"], emb["completion_tokens"]) == (
        "/v1/embeddings", "text-embedding-3-small", 9, None)
    # the embeddings call sits under the tool span, under the agent: same conversation
    assert orjson.loads(emb["metadata_json"])["conversation_id"] == "conv_5f2a9c"
    total = connect(home).execute(
        "SELECT sum(prompt_tokens), sum(completion_tokens) FROM requests").fetchone()
    assert total == (129, 40)


def test_account_key_picks_the_billing_unit_and_user_id_becomes_the_end_user(home, tmp_path):
    res = ingest(home, FIX / "agent_run.jsonl", account_key="tenant.id")
    assert res.accepted == 2
    chat, emb = rows(home)
    assert chat["account_id"] == emb["account_id"] == "tenant_7"  # a resource attribute
    assert chat["end_user_hash"] is not None and chat["end_user_hash"] == emb["end_user_hash"]
    assert orjson.loads(chat["request_json"])["user"] == "u_314159"


def test_account_key_service_name_and_account_id_option(home, tmp_path):
    ingest(home, FIX / "openai_v2_traces.jsonl", account_key="service.name")
    assert {r["account_id"] for r in rows(home)} == {"support-bot"}
    other = tmp_path / "h2"
    from detector.settings import load_settings

    h2 = load_settings(other)
    ingest(h2, FIX / "agent_run.jsonl", account_id="acct_cli")
    assert {r["account_id"] for r in rows(h2)} == {"acct_cli"}


# --- defect: spans without identity quarantined silently -----------------------------------------

def test_span_without_identity_is_quarantined_with_the_option_to_give(home):
    res = ingest(home, FIX / "openai_v2_traces.jsonl")
    assert (res.accepted, res.quarantined) == (0, 3)
    assert all("--account-key" in r and "--account-id" in r for r in reasons(home))


def test_account_key_naming_an_absent_attribute_is_quarantined(home):
    res = ingest(home, FIX / "agent_run.jsonl", account_key="no.such.attribute")
    assert (res.accepted, res.quarantined) == (0, 2)
    assert all("no.such.attribute" in r for r in reasons(home))


def test_mostly_unidentified_file_is_refused(home, tmp_path):
    doc = orjson.loads((FIX / "openai_v2_traces.jsonl").read_bytes())
    p = tmp_path / "many.jsonl"
    p.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for _ in range(4)))  # 12 spans
    with pytest.raises(InputError, match="--account-key"):
        ingest(home, p)


# --- deprecated attribute names ------------------------------------------------------------------

def test_deprecated_attribute_names(home):
    res = ingest(home, FIX / "deprecated_names.jsonl")
    assert res.accepted == 1
    [row] = rows(home)
    assert (row["account_id"], row["prompt_tokens"], row["completion_tokens"]) == (
        "acct_0042", 31, 412)
    assert row["prompt_text"] == "Explain step by step how you would solve: 17 * 23"
    assert row["output_chars"] == len("17 * 23 = 391")
    assert orjson.loads(row["metadata_json"])["provider"] == "openai"


# --- defect: content as OTLP log records was read as native and lost ----------------------------

def test_log_records_join_their_spans(home):
    res = ingest(home, FIX / "openai_v2_logs.jsonl", FIX / "openai_v2_traces.jsonl",
                 account_key="service.name")
    assert (res.read, res.accepted, res.quarantined) == (3, 3, 0)  # log records: context only
    got = rows(home)
    assert [r["prompt_text"] for r in got] == [f"Say hello number {i}" for i in range(3)]
    assert [r["output_chars"] for r in got] == [len(f"Hello {i}!") for i in range(3)]


def test_logs_and_spans_in_one_file(home, tmp_path):
    p = tmp_path / "both.jsonl"
    p.write_bytes((FIX / "openai_v2_traces.jsonl").read_bytes()
                  + (FIX / "openai_v2_logs.jsonl").read_bytes())
    ingest(home, p, account_key="service.name")
    assert [r["prompt_text"] for r in rows(home)][0] == "Say hello number 0"


# --- OTLP protobuf -------------------------------------------------------------------------------

def _to_proto(json_path: Path, logs: bool = False) -> bytes:
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    def b64(obj):
        if isinstance(obj, dict):
            return {k: base64.b64encode(bytes.fromhex(v)).decode()
                    if k in ("traceId", "spanId", "parentSpanId") else b64(v)
                    for k, v in obj.items()}
        return [b64(x) for x in obj] if isinstance(obj, list) else obj

    msg = ExportLogsServiceRequest() if logs else ExportTraceServiceRequest()
    return ParseDict(b64(orjson.loads(json_path.read_bytes())), msg).SerializeToString()


@pytest.mark.parametrize("framed", [False, True])
def test_otlp_protobuf_gives_the_same_rows_as_json(home, tmp_path, framed):
    from detector.settings import load_settings

    data = _to_proto(FIX / "agent_run.jsonl")
    p = tmp_path / "traces.binpb"
    p.write_bytes(len(data).to_bytes(4, "big") + data if framed else data)
    assert detect(p) == "otel"
    ingest(home, p)
    ref = load_settings(tmp_path / "ref")
    ingest(ref, FIX / "agent_run.jsonl")
    skip = {"source_file", "source_line", "ingest_id"}
    strip = [{k: v for k, v in r.items() if k not in skip} for r in rows(home)]
    assert strip == [{k: v for k, v in r.items() if k not in skip} for r in rows(ref)]


def test_otlp_protobuf_logs_join_json_spans(home, tmp_path):
    logs = tmp_path / "logs.binpb"
    data = _to_proto(FIX / "openai_v2_logs.jsonl", logs=True)
    logs.write_bytes(len(data).to_bytes(4, "big") + data)
    shutil.copy(FIX / "openai_v2_traces.jsonl", tmp_path / "traces.jsonl")
    ingest(home, logs, tmp_path / "traces.jsonl", account_key="service.name")
    assert [r["prompt_text"] for r in rows(home)][2] == "Say hello number 2"


def test_text_is_never_protobuf(tmp_path):
    from detector.ingest.adapters.otlp_proto import is_otlp_proto

    p = tmp_path / "a.jsonl"
    p.write_bytes(b'\n{"request_id": "r", "account_id": "a", "request": {}}\n')
    assert not is_otlp_proto(p)


# --- property: every model-call span is one record; nothing it carried is lost -----------------

def test_every_model_call_is_counted_and_no_carried_field_is_lost(tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
    span = st.fixed_dictionaries({
        "op": st.sampled_from(["chat", "text_completion", "generate_content", "embeddings",
                               "invoke_agent", "execute_tool", None]),
        "model": st.none() | text, "in": st.none() | st.integers(0, 10**6),
        "out": st.none() | st.integers(0, 10**6), "deprecated": st.booleans(),
        "user": st.none() | text, "prompt": st.none() | text, "parent": st.integers(0, 8)})

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(span, max_size=8), st.lists(st.integers(0, 10), max_size=4))
    def check(spans, log_spans):
        out = []
        for i, s in enumerate(spans):
            a = {}
            if s["op"] is not None:
                a["gen_ai.operation.name"] = {"stringValue": s["op"]}
            if s["model"] is not None:
                a["gen_ai.request.model"] = {"stringValue": s["model"]}
            names = (("gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens")
                     if s["deprecated"] else ("gen_ai.usage.input_tokens",
                                              "gen_ai.usage.output_tokens"))
            for name, v in zip(names, (s["in"], s["out"]), strict=True):
                if v is not None:
                    a[name] = {"intValue": str(v)}
            if s["user"] is not None:
                a["user.id"] = {"stringValue": s["user"]}
            if s["prompt"] is not None:
                a["gen_ai.input.messages"] = {"stringValue": orjson.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": s["prompt"]}]}]
                ).decode()}
            sp = {"traceId": "ab" * 16, "spanId": f"{i:016x}", "name": "s",
                  "startTimeUnixNano": str(1795787112000000000 + i),
                  "attributes": [{"key": k, "value": v} for k, v in a.items()]}
            if s["parent"] < i:
                sp["parentSpanId"] = f"{s['parent']:016x}"
            out.append(sp)
        doc = {"resourceSpans": [{"resource": {"attributes": []},
                                  "scopeSpans": [{"spans": out}]}]}
        logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [
            {"traceId": "ab" * 16, "spanId": f"{j:016x}", "eventName": "gen_ai.user.message",
             "body": {"kvlistValue": {"values": [
                 {"key": "content", "value": {"stringValue": "hi"}}]}}}
            for j in log_spans]}]}]}
        p = tmp_path / "p.jsonl"
        p.write_bytes(orjson.dumps(doc) + b"\n" + orjson.dumps(logs) + b"\n")
        reader = records_for(p, account_id="acct")
        got = parse_line(orjson.dumps(doc), Limits(), reader)
        is_call = [s["op"] in ("chat", "text_completion", "generate_content", "embeddings")
                   or (s["op"] is None and (s["model"] is not None or s["in"] is not None
                                            or s["out"] is not None)) for s in spans]
        calls = [s for s, c in zip(spans, is_call, strict=True) if c]
        assert len(got) == len(calls)  # every model call is one record, nothing else
        # a log record is context when it joins a model call, else one quarantined record
        from_logs = parse_line(orjson.dumps(logs), Limits(), reader)
        unmatched = [j for j in log_spans if not (j < len(spans) and is_call[j])]
        assert len(from_logs) == len(unmatched)
        assert all(r.startswith("unmatched_log_record: gen_ai.user.message")
                   for _, r in from_logs)
        for s, (_, row) in zip(calls, got, strict=True):
            assert not isinstance(row, str), row
            row = dict(zip(NAMES, row, strict=False))
            assert row["model"] == s["model"] and row["prompt_tokens"] == s["in"]
            assert row["completion_tokens"] == s["out"]
            if s["prompt"] is not None:
                assert row["prompt_text"] == s["prompt"]
            if s["op"] == "embeddings":
                assert row["endpoint"] == "/v1/embeddings"
    check()


def test_map_span_without_context_quarantines_missing_identity():
    span = {"traceId": "t", "spanId": "s", "startTimeUnixNano": "1795787112000000000",
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}]}
    assert map_span(span, {}, Context()).startswith("missing_field: account_id")
    assert map_span(span, {"service.name": "x"}, Context(account_key="service.name"))[
        "account_id"] == "x"
