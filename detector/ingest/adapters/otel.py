"""OpenTelemetry GenAI spans as OTLP JSON (the collector's file exporter: one
``ExportTraceServiceRequest`` per line, or one such document per file).

Each span carrying ``gen_ai.*`` attributes is one request; other spans are not requests and are
not counted. Mapping onto the native record (GenAI semantic conventions):

| native | span |
|---|---|
| request_id | ``gen_ai.response.id``, else ``<traceId>-<spanId>`` |
| timestamp | ``startTimeUnixNano`` |
| account_id | ``user.id``, else ``enduser.id`` (span, then resource attributes) |
| model | ``gen_ai.request.model`` |
| client_ip | ``client.address`` |
| request | ``gen_ai.input.messages`` / ``gen_ai.prompt`` / ``gen_ai.*.message`` events when
  content was captured; ``max_tokens``, ``temperature``, ``top_p`` from ``gen_ai.request.*`` |
| response | finish reason from ``gen_ai.response.finish_reasons``; status 500 when the span
  status is ERROR (no HTTP status otherwise) |
| usage | ``gen_ai.usage.input_tokens`` / ``output_tokens`` |
| latency_ms | end - start |
| metadata | every other attribute, the span name and the resource attributes |
"""

from __future__ import annotations

import orjson

from detector.ingest.adapters.common import drop_none, maybe_json
from detector.ingest.adapters.rows import source_for
from detector.ingest.formats import Format, register
from detector.ingest.jsonio import decode_line


def any_value(v: object) -> object:
    """Decode an OTLP ``AnyValue`` ({"stringValue": ...}, {"arrayValue": {...}}, ...)."""
    if not isinstance(v, dict):
        return v
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return v["intValue"]
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return attrs((v["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def attrs(items: object) -> dict:
    """OTLP attribute list -> dict."""
    out: dict = {}
    if isinstance(items, list):
        for kv in items:
            if isinstance(kv, dict) and isinstance(kv.get("key"), str):
                out[kv["key"]] = any_value(kv.get("value"))
    return out


def _nanos_to_ms(v: object) -> float | None:
    try:
        return int(v) / 1e6  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _messages(a: dict, events: object) -> list | None:
    msgs = maybe_json(a.get("gen_ai.input.messages"))
    if isinstance(msgs, list):
        out = []
        for m in msgs:
            if isinstance(m, dict) and "parts" in m and "content" not in m:
                m = {"role": m.get("role"), "content": [
                    {"type": "text", "text": p.get("content")} for p in m["parts"]
                    if isinstance(p, dict) and p.get("type") == "text"]}
            out.append(m)
        return out
    system = maybe_json(a.get("gen_ai.system_instructions"))
    out = []
    if isinstance(events, list):
        for ev in events:
            name = ev.get("name", "") if isinstance(ev, dict) else ""
            if name in ("gen_ai.system.message", "gen_ai.user.message"):
                ea = attrs(ev.get("attributes"))
                body = any_value(ev.get("body")) if "body" in ev else None
                content = (body or {}).get("content") if isinstance(body, dict) else ea.get(
                    "content", ea.get("gen_ai.prompt"))
                out.append({"role": name.split(".")[1], "content": content})
    if isinstance(a.get("gen_ai.prompt"), str) and not out:
        out.append({"role": "user", "content": a["gen_ai.prompt"]})
    if isinstance(system, str):
        out.insert(0, {"role": "system", "content": system})
    return out or None


def map_span(span: dict, resource: dict) -> dict:
    """One GenAI span (with its resource attributes) -> one native record."""
    a = attrs(span.get("attributes"))
    start = _nanos_to_ms(span.get("startTimeUnixNano"))
    end = _nanos_to_ms(span.get("endTimeUnixNano"))
    body = drop_none({
        "messages": _messages(a, span.get("events")),
        "max_tokens": a.get("gen_ai.request.max_tokens"),
        "temperature": a.get("gen_ai.request.temperature"),
        "top_p": a.get("gen_ai.request.top_p"), "seed": a.get("gen_ai.request.seed"),
    })
    finish = a.get("gen_ai.response.finish_reasons")
    status = span.get("status") if isinstance(span.get("status"), dict) else {}
    error = status.get("code") in (2, "STATUS_CODE_ERROR")
    response = drop_none({"finish_reason": finish[0] if isinstance(finish, list) and finish
                          else finish if isinstance(finish, str) else None,
                          "status": 500 if error else None})
    rid = a.get("gen_ai.response.id") or (
        f"{span.get('traceId')}-{span.get('spanId')}" if span.get("spanId") else None)
    user = a.get("user.id") or a.get("enduser.id") or resource.get("user.id") or resource.get(
        "enduser.id")
    used = {"gen_ai.response.id", "gen_ai.request.model", "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens", "gen_ai.request.max_tokens",
            "gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.seed",
            "client.address", "user.id", "enduser.id", "gen_ai.input.messages",
            "gen_ai.system_instructions", "gen_ai.prompt", "gen_ai.response.finish_reasons"}
    meta = {k: v for k, v in a.items() if k not in used}
    meta.update({"span_name": span.get("name"), "resource": resource or None})
    return drop_none({
        "request_id": rid, "timestamp": start, "account_id": user,
        "model": a.get("gen_ai.request.model"), "client_ip": a.get("client.address"),
        "request": body, "response": response or None,
        "usage": drop_none({"prompt_tokens": a.get("gen_ai.usage.input_tokens"),
                            "completion_tokens": a.get("gen_ai.usage.output_tokens")}) or None,
        "latency_ms": (end - start) if start is not None and end is not None else None,
        "metadata": drop_none(meta),
    })


def _is_genai(span: dict) -> bool:
    items = span.get("attributes")
    return isinstance(items, list) and any(
        isinstance(kv, dict) and str(kv.get("key", "")).startswith("gen_ai.") for kv in items)


def read_export(raw: bytes, flags: list[str]) -> list[tuple[bytes, object]]:
    """Every GenAI span of one ExportTraceServiceRequest (one line)."""
    value, reason = decode_line(raw, flags)
    if reason is not None:
        return [(raw, reason)]
    if not isinstance(value, dict) or not isinstance(value.get("resourceSpans"), list):
        return [(raw, "not_an_object: expected an OTLP export with resourceSpans")]
    out: list[tuple[bytes, object]] = []
    for rs in value["resourceSpans"]:
        if not isinstance(rs, dict):
            continue
        resource = attrs((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in (ss.get("spans") or []) if isinstance(ss, dict) else []:
                if isinstance(span, dict) and _is_genai(span):
                    out.append((orjson.dumps(span), map_span(span, resource)))
    return out


def claims(export: dict) -> bool:
    """An OTLP JSON export (ExportTraceServiceRequest): a top-level ``resourceSpans`` list."""
    return isinstance(export.get("resourceSpans"), list)


register(Format("otel", read_export, source_for, claims, priority=20))
