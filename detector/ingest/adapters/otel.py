"""OpenTelemetry GenAI spans (semantic conventions ``gen_ai.*``) as OTLP exports: OTLP/JSON (the
collector's file exporter: one ``ExportTraceServiceRequest`` per line, or one such document per
file) or OTLP protobuf (:mod:`detector.ingest.adapters.otlp_proto`); GenAI content sent as OTLP
log records (``resourceLogs``) joins its span.

**What is a request.** Only model calls: spans whose ``gen_ai.operation.name`` is ``chat``,
``text_completion``, ``generate_content`` or ``embeddings`` (endpoint ``/v1/embeddings``), or
older spans without an operation name that carry ``gen_ai.request.model`` or token usage. Agent
(``invoke_agent``, ``create_agent``) and tool (``execute_tool``) spans are not requests and
are not counted: they give context (conversation id, end user, the account attribute) to the
model calls under them (same trace, parent chain), so tokens an agent span sums up are never
counted twice. Other spans (HTTP, database) are not counted either, but their identity
attributes reach the calls under them the same way.

**Account.** ``--account-id ID`` for the whole file; else ``--account-key ATTR``: the named
attribute (e.g. ``service.name``, a tenant attribute, ``user.id``) of the span, else of its
ancestors, else of its resource; else ``user.id`` / ``enduser.id`` (span, ancestors, resource).
A span with none of these is quarantined: ``missing_field: account_id`` with a reason naming
the options to give (a file where most spans lack it is refused as unreadable, exit 2).

**Content from log records.** Log records (``resourceLogs``: the older GenAI event form,
``eventName`` or the ``event.name`` attribute ``gen_ai.system.message``,
``gen_ai.user.message``, ``gen_ai.assistant.message``, ``gen_ai.tool.message``,
``gen_ai.choice``) in this file or in another OTel file of the same command join their span by
trace and span id. They are context, not requests (0 records read); a GenAI log record that
joins no model-call span (no span id, or no such span in the command's OTel files) is read as
one record and quarantined (``unmatched_log_record: ...``), never dropped.

| native | span |
|---|---|
| request_id | ``gen_ai.response.id``, else ``<traceId>-<spanId>`` |
| timestamp | ``startTimeUnixNano`` |
| account_id | see above |
| endpoint | ``/v1/embeddings`` for ``embeddings``; null otherwise (nothing to take it from) |
| model | ``gen_ai.request.model``, else ``gen_ai.response.model`` |
| client_ip | ``client.address`` |
| request | ``messages`` from ``gen_ai.system_instructions`` + ``gen_ai.input.messages`` (or ``gen_ai.prompt``, span events, log records); ``max_tokens``, ``temperature``, ``top_p``, ``seed`` from ``gen_ai.request.*``; ``user`` = the end user (``user.id`` / ``enduser.id`` when the account came from elsewhere: ``end_user_hash``) |
| response | ``choices`` from ``gen_ai.output.messages`` (or ``gen_ai.completion`` / ``gen_ai.choice`` events) -> ``output_chars``; ``finish_reason`` from ``gen_ai.response.finish_reasons``; ``status`` = ``http.response.status_code`` (none invented); ``error`` = ``error.type`` / the span's error status |
| usage | ``gen_ai.usage.input_tokens`` (deprecated ``prompt_tokens``), ``output_tokens`` (``completion_tokens``), ``reasoning.output_tokens`` |
| latency_ms | end - start |
| metadata | every other attribute, ``span_name``, ``operation``, ``provider`` (``gen_ai.provider.name``, deprecated ``gen_ai.system``), ``conversation_id`` (span or ancestors), ``agent_name``, the resource attributes |
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import orjson

from detector.ingest.adapters.common import drop_none, maybe_json
from detector.ingest.adapters.otel_context import (  # noqa: F401  (re-exported)
    CONTEXT_OPS,
    MODEL_OPS,
    Context,
    _log_records,
    _nanos_to_ms,
    _spans,
    _unmatched,
    any_value,
    attrs,
    is_model_call,
)
from detector.ingest.adapters.otlp_proto import ProtoSource, is_otlp_proto
from detector.ingest.adapters.rows import source_for
from detector.ingest.formats import Format, register
from detector.ingest.jsonio import decode_line

_EVENT_ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}
_IDENTITY = ("user.id", "enduser.id")
_USED = frozenset({
    "gen_ai.response.id", "gen_ai.request.model", "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens",
    "gen_ai.usage.reasoning.output_tokens", "gen_ai.request.max_tokens",
    "gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.seed",
    "client.address", "gen_ai.input.messages", "gen_ai.output.messages",
    "gen_ai.system_instructions", "gen_ai.prompt", "gen_ai.completion",
    "gen_ai.response.finish_reasons", "gen_ai.operation.name", "gen_ai.provider.name",
    "gen_ai.system", "gen_ai.conversation.id", "http.response.status_code", "error.type",
})
#: Values ``--account-key`` takes for OTel: any attribute name.
ACCOUNT_KEYS = ("*",)


# --- one span -> one record ------------------------------------------------------------------

def _parts_text(parts: object) -> list[dict]:
    return [{"type": "text", "text": p.get("content")} for p in parts
            if isinstance(p, dict) and p.get("type") == "text"] if isinstance(parts, list) else []


def _convention_messages(msgs: object) -> list | None:
    """``gen_ai.input.messages`` / ``output.messages`` (role + parts) as chat messages."""
    msgs = maybe_json(msgs)
    if not isinstance(msgs, list):
        return None
    out = []
    for m in msgs:
        if isinstance(m, dict) and "parts" in m and "content" not in m:
            m = {"role": m.get("role"), "content": _parts_text(m["parts"]),
                 **({"finish_reason": m["finish_reason"]} if "finish_reason" in m else {})}
        out.append(m)
    return out


def _event_content(body: object, ea: dict) -> object:
    if isinstance(body, dict):
        return body.get("content")
    return ea.get("content", ea.get("gen_ai.prompt"))


def _messages(a: dict, span_events: object, log_events: list) -> list | None:
    msgs = _convention_messages(a.get("gen_ai.input.messages"))
    if msgs is None:
        msgs = []
        for ev in span_events if isinstance(span_events, list) else []:
            name = ev.get("name", "") if isinstance(ev, dict) else ""
            if name in _EVENT_ROLES:
                ea = attrs(ev.get("attributes"))
                body = any_value(ev.get("body")) if "body" in ev else None
                msgs.append({"role": _EVENT_ROLES[name], "content": _event_content(body, ea)})
        for name, body in log_events:
            if name in _EVENT_ROLES:
                msgs.append({"role": _EVENT_ROLES[name], "content": _event_content(body, {})})
        if isinstance(a.get("gen_ai.prompt"), str) and not msgs:
            msgs.append({"role": "user", "content": a["gen_ai.prompt"]})
    system = maybe_json(a.get("gen_ai.system_instructions"))
    if isinstance(system, list):
        system = "\n".join(p["text"] for p in _parts_text(system) if isinstance(p["text"], str))
    if isinstance(system, str) and system:
        msgs.insert(0, {"role": "system", "content": system})
    return msgs or None


def _choices(a: dict, span_events: object, log_events: list) -> list | None:
    out = _convention_messages(a.get("gen_ai.output.messages"))
    if out is not None:
        return [{"index": i, "message": {"role": m.get("role"), "content": _text(m.get("content"))},
                 "finish_reason": m.get("finish_reason")} for i, m in enumerate(out)
                if isinstance(m, dict)]
    choices = []
    evs = [(ev.get("name"), any_value(ev.get("body")) if "body" in ev else attrs(
        ev.get("attributes"))) for ev in (span_events if isinstance(span_events, list) else [])
        if isinstance(ev, dict)]
    for name, body in evs + list(log_events):
        if name == "gen_ai.choice" and isinstance(body, dict):
            msg = body.get("message") if isinstance(body.get("message"), dict) else {}
            choices.append({"index": body.get("index", len(choices)), "message": {
                "role": msg.get("role", "assistant"), "content": _text(msg.get("content"))},
                "finish_reason": body.get("finish_reason")})
    if not choices and isinstance(a.get("gen_ai.completion"), str):
        choices.append({"index": 0, "message": {"role": "assistant",
                                                "content": a["gen_ai.completion"]}})
    return choices or None


def _text(content: object) -> object:
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        return "".join(t for t in texts if isinstance(t, str))
    return content


def _first(*values: object) -> object:
    return next((v for v in values if v is not None), None)


def map_span(span: dict, resource: dict, ctx: Context | None = None,
             account_id: str | None = None) -> dict | str:
    """One model-call span (with its resource attributes and context) -> a native record, or
    the quarantine reason."""
    ctx = ctx or Context()
    a = attrs(span.get("attributes"))
    trace = str(span.get("traceId"))
    chain = list(ctx.ancestors(trace, span.get("parentSpanId")))
    log_events = ctx.events.get((trace, str(span.get("spanId"))), [])

    def lookup(key: str) -> object:
        return _first(a.get(key), *(c.get(key) for c in chain),
                      *(c.get("resource:" + key) for c in chain), resource.get(key))

    start = _nanos_to_ms(span.get("startTimeUnixNano"))
    end = _nanos_to_ms(span.get("endTimeUnixNano"))
    op = a.get("gen_ai.operation.name")
    identity = next((v for k in _IDENTITY if isinstance(v := lookup(k), str) and v), None)
    if account_id is not None:
        account = account_id
    elif ctx.account_key:
        account = lookup(ctx.account_key)
        if account is not None and not isinstance(account, str):
            account = str(account)
        if not account:
            return (f"missing_field: account_id (span has no attribute {ctx.account_key!r}, nor "
                    f"its ancestors or resource: give another --account-key or --account-id)")
    else:
        account = identity
        if account is None:
            return ("missing_field: account_id (span has no user.id/enduser.id: give "
                    "--account-key ATTRIBUTE, e.g. service.name or a tenant attribute, or "
                    "--account-id ID)")
    end_user = identity if identity is not None and identity != account else None
    body = drop_none({
        "messages": _messages(a, span.get("events"), log_events),
        "max_tokens": a.get("gen_ai.request.max_tokens"),
        "temperature": a.get("gen_ai.request.temperature"),
        "top_p": a.get("gen_ai.request.top_p"), "seed": a.get("gen_ai.request.seed"),
        "user": end_user,
    })
    finish = a.get("gen_ai.response.finish_reasons")
    status = span.get("status") if isinstance(span.get("status"), dict) else {}
    error = a.get("error.type") or (
        status.get("message") or "error" if status.get("code") in (2, "STATUS_CODE_ERROR")
        else None)
    choices = _choices(a, span.get("events"), log_events)
    response = drop_none({"finish_reason": finish[0] if isinstance(finish, list) and finish
                          else finish if isinstance(finish, str) else None,
                          "choices": choices, "status": a.get("http.response.status_code"),
                          "error": error})
    rid = a.get("gen_ai.response.id") or (
        f"{span.get('traceId')}-{span.get('spanId')}" if span.get("spanId") else None)
    meta = {k: v for k, v in a.items() if k not in _USED}
    meta.update({"span_name": span.get("name"), "operation": op,
                 "provider": _first(a.get("gen_ai.provider.name"), a.get("gen_ai.system")),
                 "conversation_id": lookup("gen_ai.conversation.id"),
                 "agent_name": _first(*(c.get("gen_ai.agent.name") for c in chain)),
                 "resource": resource or None})
    usage = drop_none({
        "prompt_tokens": _first(a.get("gen_ai.usage.input_tokens"),
                                a.get("gen_ai.usage.prompt_tokens")),
        "completion_tokens": _first(a.get("gen_ai.usage.output_tokens"),
                                    a.get("gen_ai.usage.completion_tokens")),
        "reasoning_tokens": a.get("gen_ai.usage.reasoning.output_tokens")})
    return drop_none({
        "request_id": rid, "timestamp": start, "account_id": account,
        "endpoint": "/v1/embeddings" if op == "embeddings" else None,
        "model": _first(a.get("gen_ai.request.model"), a.get("gen_ai.response.model")),
        "client_ip": a.get("client.address"), "request": body, "response": response or None,
        "usage": usage or None,
        "latency_ms": (end - start) if start is not None and end is not None else None,
        "metadata": drop_none(meta),
    })


def _reader(ctx: Context | None, account_id: str | None):
    def read(raw: bytes, flags: list[str]) -> list[tuple[bytes, object]]:
        """Every model-call span of one OTLP export (one line); log records add nothing."""
        value, reason = decode_line(raw, flags)
        if reason is not None:
            return [(raw, reason)]
        if not isinstance(value, dict) or not (isinstance(value.get("resourceSpans"), list)
                                               or isinstance(value.get("resourceLogs"), list)):
            return [(raw, "not_an_object: expected an OTLP export with resourceSpans")]
        local = ctx
        if local is None:  # no file context: this export alone
            local = Context()
            local.add_export(value)
        out: list[tuple[bytes, object]] = []
        for span, resource in _spans(value):
            if is_model_call(attrs(span.get("attributes"))):
                out.append((orjson.dumps(span), map_span(span, resource, local, account_id)))
        for rec in _log_records(value):
            reason = _unmatched(rec, local)
            if reason is not None:
                out.append((orjson.dumps(rec), reason))
        return out
    return read


read_export = _reader(None, None)


@lru_cache(maxsize=16)
def _file_context(path: str, mtime_ns: int, size: int, account_key: str | None) -> Context:
    ctx = Context(account_key=account_key)
    source = otel_source(Path(path), 0, 0)
    for batch in source.batches(10_000, 32 << 20):
        for line in batch.lines:
            try:
                ctx.add_export(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return ctx


def _context(paths: list[Path], account_key: str | None) -> Context:
    ctx = Context(account_key=account_key)
    for p in paths:
        st = p.stat()
        part = _file_context(str(p.resolve()), st.st_mtime_ns, st.st_size, account_key)
        ctx.spans.update(part.spans)
        ctx.calls.update(part.calls)
        for k, v in part.events.items():
            ctx.events.setdefault(k, []).extend(v)
    return ctx


def _is_otel_file(path: Path) -> bool:
    from detector.ingest.sample import sample  # noqa: PLC0415

    if is_otlp_proto(path):
        return True
    try:
        return any(claims(o) for o in sample(path, 3).objects())
    except Exception:  # noqa: BLE001 - an unreadable neighbour is simply not context
        return False


def records_for(path: Path, account_id: str | None = None, account_key: str | None = None,
                related: tuple[str, ...] = ()):
    """Record reader for one OTel file: spans see their ancestors and log records in this file
    and in the other OTel files of the command (``related``)."""
    others = [Path(r) for r in related if Path(r).exists() and _is_otel_file(Path(r))]
    return _reader(_context([Path(path), *others], account_key), account_id)


def otel_source(path: Path, offset: int = 0, line: int = 0):
    """OTLP protobuf messages, else JSON lines / a JSON document (``rows.source_for``)."""
    if is_otlp_proto(path):
        return ProtoSource(path, offset, line)
    return source_for(path, offset, line)


def claims(export: dict) -> bool:
    """An OTLP JSON export: a top-level ``resourceSpans`` or ``resourceLogs`` list."""
    return isinstance(export.get("resourceSpans"), list) or isinstance(
        export.get("resourceLogs"), list)


register(Format("otel", read_export, otel_source, claims, priority=20, records_for=records_for,
                claims_path=is_otlp_proto, account_keys=ACCOUNT_KEYS, wants_related=True))
